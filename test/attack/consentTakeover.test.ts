/**
 * Issue 19, "consent takeover": a practitioner, any Patient writer, or the patient's own
 * password-only token PUTs `Patient/{id}` with the `urn:medledger:address` identifier changed to a
 * key it controls, signs a grant with that key and relays it — and a member reads the patient's
 * records on a consent the patient never gave. The chain address is the patient's identity for
 * consent, not resource data: a write that changes it is refused, and no second Patient may carry
 * an address that already identifies one. Only `$claim` (the claim code, signed by the new key)
 * rebinds it.
 */
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestNode, type TestNode } from '../../src/fhir/testing/startTestNode.ts';

const ADDRESS = 'urn:medledger:address';

describe('the chain identity of a patient cannot be taken over by a write', () => {
  let t: TestNode;
  let ehr: string;
  const alice = privateKeyToAccount(generatePrivateKey());
  const mallory = privateKeyToAccount(generatePrivateKey());
  const member = privateKeyToAccount(generatePrivateKey()).address.toLowerCase() as `0x${string}`;
  let aliceId: string;
  let observation: string;

  const put = async (authorization: string, body: Record<string, unknown>) => {
    const r = await fetch(`${t.fhirUrl}/Patient/${aliceId}`, {
      method: 'PUT',
      headers: { authorization, 'content-type': 'application/fhir+json' },
      body: JSON.stringify(body),
    });
    return { status: r.status, body: (await r.json()) as { resourceType: string; identifier?: unknown[] } };
  };
  const patient = (address: string) => ({
    resourceType: 'Patient',
    id: aliceId,
    name: [{ family: 'Alice' }],
    identifier: [{ system: ADDRESS, value: address }],
  });

  beforeAll(async () => {
    // Every practitioner of the institution may write Patients here: the test is about the address.
    t = await startTestNode({ env: { MEDLEDGER_TREATMENT_ACCESS: 'institution' } });
    ehr = await t.bearer({ kind: 'system', scope: 'system/*.cruds' });
    aliceId = await t.create(
      {
        resourceType: 'Patient',
        name: [{ family: 'Alice' }],
        identifier: [{ system: ADDRESS, value: alice.address.toLowerCase() }],
      },
      ehr,
    );
    observation = await t.create(
      {
        resourceType: 'Observation',
        status: 'final',
        code: { text: 'hba1c' },
        subject: { reference: `Patient/${aliceId}` },
      },
      ehr,
    );
  });
  afterAll(async () => t?.stop());

  it("a practitioner, the EHR and the patient's own token cannot change the address; a forged grant opens nothing", async () => {
    const practitioner = await t.bearer({
      kind: 'practitioner',
      scope: 'user/Patient.cruds',
      subject: 'dr-x',
    });
    const own = await t.bearer({
      kind: 'patient',
      scope: 'patient/*.cruds',
      patient: aliceId,
      address: alice.address.toLowerCase(),
    });
    for (const [who, token] of [
      ['practitioner', practitioner],
      ['system client', ehr],
      ['patient token', own],
    ] as const) {
      const r = await put(token, patient(mallory.address.toLowerCase()));
      expect(r.status, who).toBe(403);
      expect(r.body.resourceType, who).toBe('OperationOutcome');
    }
    const current = await fetch(`${t.fhirUrl}/Patient/${aliceId}`, { headers: { authorization: ehr } });
    expect(JSON.stringify(await current.json())).toContain(alice.address.toLowerCase());

    // Mallory signs a grant "for Alice" with her own key: it concerns Mallory's address, not Alice.
    await t.grant(mallory, member, { resourceTypes: ['Observation', 'Patient'], purposes: ['HRESCH'] });
    const asMember = await t.bearer({
      kind: 'system',
      scope: 'system/*.rs',
      address: member,
      internal: false,
    });
    const read = await fetch(`${t.fhirUrl}/Observation/${observation}`, {
      headers: { authorization: asMember, 'x-purpose-of-use': 'HRESCH' },
    });
    expect(read.status).toBe(404);
  });

  it('a write that keeps the address, or leaves it out, is accepted and keeps the identity', async () => {
    expect((await put(ehr, patient(alice.address.toLowerCase()))).status).toBe(200);
    const without = await put(ehr, { resourceType: 'Patient', id: aliceId, name: [{ family: 'Alice B.' }] });
    expect(without.status).toBe(200);
    expect(JSON.stringify(without.body)).toContain(alice.address.toLowerCase());
  });

  it('a second Patient carrying an address that already identifies one is refused (409)', async () => {
    const r = await fetch(`${t.fhirUrl}/Patient`, {
      method: 'POST',
      headers: { authorization: ehr, 'content-type': 'application/fhir+json' },
      body: JSON.stringify({
        resourceType: 'Patient',
        identifier: [{ system: ADDRESS, value: alice.address.toLowerCase() }],
      }),
    });
    expect(r.status).toBe(409);
    expect(((await r.json()) as { resourceType: string }).resourceType).toBe('OperationOutcome');
  });
});
