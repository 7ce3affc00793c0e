/**
 * Issue 19, "login": password guessing met no per-account lockout or backoff (120 attempts a
 * minute per address, each ~0.4 s of scrypt on one core). Now: after a few failures an account is
 * locked for a doubling time, and so is an address that tries many accounts; attempts turned away
 * cost no password hash (the right password too, until the lock ends); and the node hashes at most
 * one password at a time, a few per second.
 */
import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient } from '../../src/access/clients.ts';
import { ACCOUNT_FREE_FAILURES, ADDRESS_FREE_FAILURES } from '../../src/access/loginThrottle.ts';
import { createUser } from '../../src/access/users.ts';
import { startTestNode, type TestNode } from '../../src/fhir/testing/startTestNode.ts';

describe('login backoff per account, per address, and bounded password hashing', () => {
  let t: TestNode;
  let base: string;
  const redirectUri = 'http://127.0.0.1:9/callback';

  const attempt = async (username: string, password: string, forwardedFor?: string) => {
    const verifier = randomBytes(32).toString('base64url');
    const query = new URLSearchParams({
      response_type: 'code',
      client_id: 'portal-test',
      redirect_uri: redirectUri,
      scope: 'patient/*.rs',
      state: 's',
      code_challenge: createHash('sha256').update(verifier).digest('base64url'),
      code_challenge_method: 'S256',
      aud: t.fhirUrl,
    });
    const r = await fetch(`${base}/auth/authorize?${query}`, {
      method: 'POST',
      redirect: 'manual',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        ...(forwardedFor ? { 'x-forwarded-for': forwardedFor } : {}),
      },
      body: new URLSearchParams({ username, password }).toString(),
    });
    await r.text();
    return { status: r.status, retryAfter: r.headers.get('retry-after') };
  };

  beforeAll(async () => {
    t = await startTestNode();
    base = t.fhirUrl.replace(/\/fhir$/, '');
    await createClient(t.node.db, {
      kind: 'public',
      name: 'portal test',
      scopes: 'patient/*.rs',
      redirectUris: [redirectUri],
      clientId: 'portal-test',
    });
    for (const username of ['alice', 'bob'])
      await createUser(t.node.db, { username, password: 'correct horse battery', role: 'patient' });
  });
  afterAll(async () => t?.stop());

  it('an account is locked after repeated failures, even for the right password, and the lock doubles', async () => {
    for (let i = 0; i < ACCOUNT_FREE_FAILURES + 1; i++)
      expect((await attempt('alice', 'wrong')).status).toBe(401);
    const locked = await attempt('alice', 'correct horse battery');
    expect(locked.status).toBe(429);
    expect(Number(locked.retryAfter)).toBeGreaterThanOrEqual(1);
    // Another account from the same address is not locked by Alice's failures.
    expect((await attempt('bob', 'correct horse battery')).status).toBe(302);
    // After the lock, one more failure locks for twice as long.
    await new Promise((r) => setTimeout(r, 1100));
    expect((await attempt('alice', 'wrong')).status).toBe(401);
    const longer = await attempt('alice', 'wrong');
    expect(longer.status).toBe(429);
    expect(Number(longer.retryAfter)).toBeGreaterThanOrEqual(2);
    await new Promise((r) => setTimeout(r, 2100));
    // The right password clears it.
    expect((await attempt('alice', 'correct horse battery')).status).toBe(302);
    expect((await attempt('alice', 'wrong')).status).toBe(401);
  }, 60_000);

  it('an address trying many accounts is locked; unknown usernames count the same as known ones', async () => {
    // The address already failed for Alice above; within the free allowance plus one it is locked.
    let attempts = 0;
    for (; attempts <= ADDRESS_FREE_FAILURES + 1; attempts++) {
      const r = await attempt(`nobody-${attempts}`, 'guess');
      if (r.status === 429) break;
      expect(r.status).toBe(401);
    }
    expect(attempts).toBeLessThanOrEqual(ADDRESS_FREE_FAILURES + 1);
    const next = await attempt('bob', 'correct horse battery');
    expect(next.status).toBe(429);
  }, 60_000);
});
