/**
 * Issue 20: a SMART app's batch. Before, any batch from a patient's or a practitioner's token was
 * refused as a whole ("scope does not allow c on Bundle", "consent is per patient"), though a
 * SMART token is never granted on Bundle. Now each entry is its own request: decided under the
 * token's scopes and the patient's consent, audited, subsetted and answered with its own status;
 * nothing the token may not see leaks through an entry. A transaction (atomic) stays for clients
 * whose scope allows it.
 */
import type { Bundle, BundleEntry } from '@medplum/fhirtypes';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestNode, type TestNode } from '../../src/fhir/testing/startTestNode.ts';

describe("a SMART app's batch is answered entry by entry, each decided and audited", () => {
  let t: TestNode;
  const ids = { alice: '', bob: '', aliceObs: '', bobObs: '' };
  const aliceKey = privateKeyToAccount(generatePrivateKey());
  const doctor = privateKeyToAccount(generatePrivateKey());
  const batch = async (authorization: string, entry: BundleEntry[], type = 'batch') => {
    const r = await fetch(t.fhirUrl, {
      method: 'POST',
      headers: { authorization, 'content-type': 'application/fhir+json' },
      body: JSON.stringify({ resourceType: 'Bundle', type, entry }),
    });
    return { status: r.status, body: (await r.json()) as Bundle };
  };
  const get = (url: string): BundleEntry => ({ request: { method: 'GET', url } });

  beforeAll(async () => {
    t = await startTestNode();
    const ehr = await t.bearer({ kind: 'system', scope: 'system/*.cruds' });
    ids.alice = await t.create(
      {
        resourceType: 'Patient',
        name: [{ family: 'Batchalice' }],
        identifier: [{ system: 'urn:medledger:address', value: aliceKey.address.toLowerCase() }],
      },
      ehr,
    );
    ids.bob = await t.create({ resourceType: 'Patient', name: [{ family: 'Batchbob' }] }, ehr);
    const obs = (patient: string, text: string) => ({
      resourceType: 'Observation',
      status: 'final',
      code: { text },
      subject: { reference: `Patient/${patient}` },
    });
    ids.aliceObs = await t.create(obs(ids.alice, 'alice weight'), ehr);
    ids.bobObs = await t.create(obs(ids.bob, 'bob weight'), ehr);
  });
  afterAll(async () => t?.stop());

  it("a patient app's batch: own records served, another's 404, a write outside the scope 403", async () => {
    const token = await t.bearer({ kind: 'patient', scope: 'patient/*.rs', patient: ids.alice });
    const { status, body } = await batch(token, [
      get(`Patient/${ids.alice}`),
      get(`Observation?patient=${ids.alice}&_elements=status`),
      get(`Patient/${ids.bob}`),
      get(`Observation/${ids.bobObs}`),
      {
        request: { method: 'POST', url: 'Observation' },
        resource: {
          resourceType: 'Observation',
          status: 'final',
          code: { text: 'home pulse' },
          subject: { reference: `Patient/${ids.alice}` },
        },
      },
      get(`${t.fhirUrl}/Observation/${ids.aliceObs}`),
      get('https://elsewhere.example/fhir/Patient/1'),
    ]);
    expect(status).toBe(200);
    expect(body.type).toBe('batch-response');
    const [own, search, other, otherObs, write, absolute, foreign] = body.entry ?? [];
    expect(own?.response?.status).toBe('200');
    expect(own?.response?.etag).toBe('W/"1"');
    expect(own?.resource?.id).toBe(ids.alice);
    expect(search?.response?.status).toBe('200');
    const matches = ((search?.resource as Bundle | undefined)?.entry ?? []).map((e) => e.resource);
    expect(matches.map((m) => m?.id)).toEqual([ids.aliceObs]);
    expect(matches[0]).not.toHaveProperty('subject'); // subsetted as the entry asked
    expect(other?.response?.status).toBe('404');
    expect(otherObs?.response?.status).toBe('404');
    expect(JSON.stringify(body)).not.toContain('bob weight');
    expect(JSON.stringify(body)).not.toContain('Batchbob');
    expect(write?.response?.status).toBe('403');
    expect(write?.response?.outcome?.resourceType).toBe('OperationOutcome');
    expect(absolute?.response?.status).toBe('200');
    expect(foreign?.response?.status).toBe('400');
    // Each served entry is in Alice's audit trail, as a request of its own.
    await t.node.audit.flush();
    const events = await fetch(`${t.fhirUrl}/AuditEvent?patient=Patient/${ids.alice}&_count=100`, {
      headers: { authorization: token },
    }).then((r) => r.json() as Promise<Bundle>);
    const served = JSON.stringify(events);
    expect(served).toContain(`Observation/${ids.aliceObs}/_history/1`);
    expect(served).toContain(`Patient/${ids.alice}/_history/1`);
  });

  it("a practitioner's batch follows each patient's consent", async () => {
    const token = await t.bearer({
      kind: 'practitioner',
      scope: 'user/*.rs',
      subject: 'dr-batch',
      address: doctor.address.toLowerCase(),
    });
    const entries = [get(`Observation/${ids.aliceObs}`), get(`Observation/${ids.bobObs}`)];
    const before = await batch(token, entries);
    expect(before.status).toBe(200);
    // Refused reads answer as a missing record would, as they do outside a batch.
    expect(before.body.entry?.map((e) => e.response?.status)).toEqual(['404', '404']);
    expect(JSON.stringify(before.body)).not.toContain('weight');
    await t.grant(aliceKey, doctor.address, { resourceTypes: ['Observation'], purposes: ['TREAT'] });
    const after = await batch(token, entries);
    expect(after.body.entry?.map((e) => e.response?.status)).toEqual(['200', '404']);
    expect(JSON.stringify(after.body)).toContain('alice weight');
    expect(JSON.stringify(after.body)).not.toContain('bob weight');
  });

  it('a transaction from a patient app is still refused as a whole, saying why', async () => {
    const token = await t.bearer({ kind: 'patient', scope: 'patient/*.rs', patient: ids.alice });
    const r = await batch(token, [get(`Patient/${ids.alice}`)], 'transaction');
    expect(r.status).toBe(403);
    expect(r.body.resourceType).toBe('OperationOutcome');
  });
});
