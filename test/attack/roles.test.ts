/**
 * Issue 19, "no roles among internal users": every non-patient user was `internal` alike. Now the
 * role bounds what a token can do, whatever its scopes: a registrar keeps registration records
 * (Patient, RelatedPerson, Coverage) and nothing clinical, never deletes, never the audit log; a
 * privacy officer reads the audit log and no clinical record. `medledger user set-role` moves a
 * user to another role: the tokens they hold stop working within seconds, and a practitioner who
 * stops being one is deactivated in the Registry. Every decision's audit event names its basis.
 */
import type { Address } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REFRESH_MS } from '../../src/access/revocations.ts';
import { findUser } from '../../src/access/users.ts';
import { registryAbi } from '../../src/chain/generated/contracts.ts';
import { waitForOutboxEntry } from '../../src/chain/outbox/outboxEntry.ts';
import { userCreateCommand } from '../../src/cli/commands/userCreate.ts';
import { userSetRoleCommand } from '../../src/cli/commands/userSetRole.ts';
import { startTestNode, type TestNode } from '../../src/fhir/testing/startTestNode.ts';

/** Parsed JSON, read loosely by the assertions. */
type Json = ReturnType<typeof JSON.parse>;
const FHIR_JSON = 'application/fhir+json';

describe('roles bound every token: registrar, privacy officer, clinician', () => {
  let t: TestNode;
  let ehr: string;
  const ids = { patient: '', observation: '' };

  const call = async (authorization: string, method: string, path: string, body?: unknown) => {
    const response = await fetch(`${t.fhirUrl}/${path}`, {
      method,
      headers: { authorization, ...(body === undefined ? {} : { 'content-type': FHIR_JSON }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: response.status, body: (await response.json().catch(() => undefined)) as Json };
  };
  /** The basis recorded on the newest audit event of `user` about `patientId` (read as the officer). */
  const lastBasis = async (patientId: string, user: string): Promise<string | undefined> => {
    await t.node.audit.flush();
    const officer = await t.bearer({ kind: 'officer', scope: 'user/*.rs', subject: 'po' });
    const { body } = await call(
      officer,
      'GET',
      `AuditEvent?patient=Patient/${patientId}&agent=${user}&_sort=-date&_count=1`,
    );
    const event = body.entry?.[0]?.resource;
    const decision = event?.extension?.find((e: Json) => e.url.endsWith('/consent-decision'));
    return decision?.extension?.find((e: Json) => e.url === 'basis')?.valueCode;
  };

  beforeAll(async () => {
    t = await startTestNode({ env: { MEDLEDGER_TREATMENT_ACCESS: 'institution' } });
    ehr = await t.bearer({ kind: 'system', scope: 'system/*.cruds' });
    ids.patient = await t.create({ resourceType: 'Patient', name: [{ family: 'Registered' }] }, ehr);
    ids.observation = await t.create(
      {
        resourceType: 'Observation',
        status: 'final',
        code: { text: 'hba1c' },
        subject: { reference: `Patient/${ids.patient}` },
      },
      ehr,
    );
  });
  afterAll(async () => t?.stop());

  it('a registrar keeps registration records, with scopes for everything, and nothing else', async () => {
    const registrar = await t.bearer({
      kind: 'registrar',
      scope: 'user/*.cruds',
      subject: 'front-desk',
      fhirUser: 'Practitioner/front-desk',
    });
    expect((await call(registrar, 'GET', `Patient/${ids.patient}`)).status).toBe(200);
    expect(await lastBasis(ids.patient, 'front-desk')).toBe('registration');
    expect((await call(registrar, 'GET', 'Patient?family=Registered')).status).toBe(200);
    const created = await call(registrar, 'POST', 'Patient', {
      resourceType: 'Patient',
      name: [{ family: 'Walkin' }],
    });
    expect(created.status).toBe(201);
    const coverage = await call(registrar, 'POST', 'Coverage', {
      resourceType: 'Coverage',
      status: 'active',
      beneficiary: { reference: `Patient/${ids.patient}` },
      payor: [{ display: 'Mutual' }],
    });
    expect(coverage.status).toBe(201);
    const updated = await call(registrar, 'PUT', `Patient/${ids.patient}`, {
      resourceType: 'Patient',
      id: ids.patient,
      name: [{ family: 'Registered', given: ['Ada'] }],
    });
    expect(updated.status).toBe(200);

    // Clinical records, deletion and the audit log are outside the role, whatever the scopes say.
    const observation = await call(registrar, 'GET', `Observation/${ids.observation}`);
    expect([403, 404]).toContain(observation.status);
    expect(observation.body.resourceType).toBe('OperationOutcome');
    expect(JSON.stringify(observation.body)).not.toContain('hba1c');
    const search = await call(registrar, 'GET', `Observation?patient=${ids.patient}`);
    expect(search.status).toBe(403);
    expect([403, 404]).toContain((await call(registrar, 'DELETE', `Patient/${created.body.id}`)).status);
    expect((await call(registrar, 'GET', `Patient/${created.body.id}`)).status).toBe(200);
    expect((await call(registrar, 'GET', 'AuditEvent')).status).toBe(403);
    const everything = await call(registrar, 'GET', `Patient/${ids.patient}/$everything`);
    expect(JSON.stringify(everything.body)).not.toContain('hba1c');
    // Registration serves treatment, payment and operations, not research.
    const research = await fetch(`${t.fhirUrl}/Patient/${ids.patient}`, {
      headers: { authorization: registrar, 'x-purpose-of-use': 'HRESCH' },
    });
    expect([403, 404]).toContain(research.status);
  });

  it('a privacy officer reads the audit log and no clinical record; a clinician the reverse', async () => {
    const officer = await t.bearer({ kind: 'officer', scope: 'user/*.cruds', subject: 'po' });
    const clinician = await t.bearer({
      kind: 'practitioner',
      scope: 'user/*.cruds',
      subject: 'dr-who',
      fhirUser: 'Practitioner/dr-who',
    });
    expect((await call(officer, 'GET', 'AuditEvent')).status).toBe(200);
    expect((await call(officer, 'GET', `Observation/${ids.observation}`)).status).toBe(404);
    expect((await call(clinician, 'GET', `Observation/${ids.observation}`)).status).toBe(200);
    expect(await lastBasis(ids.patient, 'dr-who')).toBe('treatment-relationship');
    expect((await call(clinician, 'GET', 'AuditEvent')).status).toBe(403);
  });

  it('user set-role: old tokens stop working, the new role applies, the Registry follows', async () => {
    const account = privateKeyToAccount(generatePrivateKey());
    const address = account.address.toLowerCase() as Address;
    // Created as `user create` does: registered on chain as this node's practitioner.
    const created = await userCreateCommand.run(t.node, {
      values: { role: 'practitioner', username: 'dr-moving', password: 'correct horse battery', address },
      positionals: [],
    });
    const registered = (created.json as { registry_outbox_id: string }).registry_outbox_id;
    await waitForOutboxEntry(t.node.db, BigInt(registered), 60_000);
    const onChain = () =>
      t.node.chain.publicClient.readContract({
        address: t.node.chain.addresses.registry,
        abi: registryAbi,
        functionName: 'practitionerOf',
        args: [address],
      });
    expect((await onChain())[2]).toBe(true);

    const token = await t.bearer({
      kind: 'practitioner',
      scope: 'user/*.rs',
      subject: 'dr-moving',
      fhirUser: 'Practitioner/dr-moving',
      address,
    });
    expect((await call(token, 'GET', `Observation/${ids.observation}`)).status).toBe(200);

    const moved = await userSetRoleCommand.run(t.node, {
      values: { role: 'officer' },
      positionals: ['dr-moving'],
    });
    expect(moved.json).toMatchObject({ role: 'officer', previous_role: 'practitioner' });
    expect((await findUser(t.node.db, 'dr-moving'))?.role).toBe('officer');
    const started = performance.now();
    for (;;) {
      const { status } = await call(token, 'GET', `Observation/${ids.observation}`);
      if (status === 401) break;
      expect(performance.now() - started, `still ${status}`).toBeLessThan(10 * REFRESH_MS + 5000);
      await new Promise((r) => setTimeout(r, 100));
    }
    const deactivated = (moved.json as { registry_outbox_id: string }).registry_outbox_id;
    await waitForOutboxEntry(t.node.db, BigInt(deactivated), 60_000);
    expect((await onChain())[2]).toBe(false);

    await expect(
      userSetRoleCommand.run(t.node, { values: { role: 'officer' }, positionals: ['nobody'] }),
    ).rejects.toMatchObject({ code: 'ERR_ACCESS_USER_UNKNOWN' });
    await expect(
      userSetRoleCommand.run(t.node, { values: { role: 'admin' }, positionals: ['dr-moving'] }),
    ).rejects.toThrow(/--role must be one of/);
  }, 120_000);
});
