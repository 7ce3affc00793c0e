/**
 * Issue 19, "users and clients cannot be revoked": a user disabled (or a client revoked) by the
 * operator keeps nothing. Their already-issued tokens stop working on every route within
 * seconds, not at the end of their hour; enabling the user again does not revive old tokens.
 * Each revocation is an audited operator action.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient } from '../../src/access/clients.ts';
import { REFRESH_MS } from '../../src/access/revocations.ts';
import { createUser } from '../../src/access/users.ts';
import {
  clientRevokeCommand,
  userDisableCommand,
  userEnableCommand,
} from '../../src/cli/commands/accountRevocation.ts';
import { startTestNode, type TestNode } from '../../src/fhir/testing/startTestNode.ts';

describe('revocation of users and clients reaches issued tokens', () => {
  let t: TestNode;
  let observation: string;

  const status = async (authorization: string, path = `Observation/${observation}`) =>
    (await fetch(`${t.fhirUrl}/${path}`, { headers: { authorization } })).status;
  /** Polls until `expected`, for at most 10 refresh periods; returns the ms it took. */
  const until = async (authorization: string, expected: number): Promise<number> => {
    const started = performance.now();
    for (;;) {
      const got = await status(authorization);
      if (got === expected) return performance.now() - started;
      expect(performance.now() - started, `still ${got}`).toBeLessThan(10 * REFRESH_MS + 5000);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const run = (command: typeof userDisableCommand, positional: string) =>
    command.run(t.node, { values: {}, positionals: [positional] });

  beforeAll(async () => {
    // Every practitioner of the institution reads for treatment here: the test is about tokens.
    t = await startTestNode({ env: { MEDLEDGER_TREATMENT_ACCESS: 'institution' } });
    const admin = await t.bearer({ kind: 'system', scope: 'system/*.cruds' });
    const patient = await t.create({ resourceType: 'Patient', name: [{ family: 'Revoked' }] }, admin);
    observation = await t.create(
      {
        resourceType: 'Observation',
        status: 'final',
        code: { text: 'pulse' },
        subject: { reference: `Patient/${patient}` },
      },
      admin,
    );
  });
  afterAll(async () => t?.stop());

  it("a disabled user's token is refused within seconds, and enabling them does not revive it", async () => {
    await createUser(t.node.db, {
      username: 'dr-gone',
      password: 'correct horse battery',
      role: 'practitioner',
    });
    const token = await t.bearer({ kind: 'practitioner', scope: 'user/*.rs', subject: 'dr-gone' });
    const other = await t.bearer({ kind: 'practitioner', scope: 'user/*.rs', subject: 'dr-stays' });
    expect(await status(token)).toBe(200);

    const before = await t.countRows('audit_events');
    const disabled = await run(userDisableCommand, 'dr-gone');
    expect(disabled.exitCode).toBe(0);
    const ms = await until(token, 401);
    expect(ms).toBeLessThan(10 * REFRESH_MS + 5000);
    expect(await status(token, `Observation?_id=${observation}`)).toBe(401);
    expect(await status(other)).toBe(200);
    await t.node.audit.flush();
    expect(await t.countRows('audit_events')).toBeGreaterThan(before);

    await run(userEnableCommand, 'dr-gone');
    await new Promise((r) => setTimeout(r, 2 * REFRESH_MS));
    expect(await status(token)).toBe(401);
    // A token issued after the revocation (a new login) works again.
    await new Promise((r) => setTimeout(r, 1100));
    const fresh = await t.bearer({ kind: 'practitioner', scope: 'user/*.rs', subject: 'dr-gone' });
    expect(await until(fresh, 200)).toBeLessThan(10 * REFRESH_MS + 5000);
  }, 60_000);

  it("a revoked client's tokens are refused within seconds; other clients are unaffected", async () => {
    await createClient(t.node.db, {
      kind: 'public',
      name: 'leaky app',
      scopes: 'patient/*.rs',
      redirectUris: ['http://127.0.0.1/cb'],
      clientId: 'leaky-app',
    });
    const token = await t.bearer({ kind: 'system', scope: 'system/*.rs', clientId: 'leaky-app' });
    const other = await t.bearer({ kind: 'system', scope: 'system/*.rs', clientId: 'other-app' });
    expect(await status(token)).toBe(200);
    expect((await run(clientRevokeCommand, 'leaky-app')).exitCode).toBe(0);
    await until(token, 401);
    expect(await status(other)).toBe(200);
    await expect(run(clientRevokeCommand, 'no-such-client')).rejects.toMatchObject({
      code: 'ERR_ACCESS_CLIENT_INVALID',
    });
    await expect(run(userDisableCommand, 'no-such-user')).rejects.toMatchObject({
      code: 'ERR_ACCESS_USER_UNKNOWN',
    });
  }, 60_000);
});
