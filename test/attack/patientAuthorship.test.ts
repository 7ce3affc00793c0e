/**
 * Issue 19, "patients write into other charts and over clinicians' records": a patient token
 * created a Coverage naming another patient, and with `patient/*.cruds` changed and deleted
 * EHR-authored Observations about herself. Now a patient authors only the types a portal lets
 * patients write (MEDLEDGER_PATIENT_AUTHORED_TYPES), only in her own compartment, and changes or
 * deletes only what she authored.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestNode, type TestNode } from '../../src/fhir/testing/startTestNode.ts';

describe('patient-authored data only where patients author', () => {
  let t: TestNode;
  let ehr: string;
  let asAlice: string;
  const ids = { alice: '', bob: '', clinical: '' };

  const call = async (
    token: string,
    method: string,
    path: string,
    body?: unknown,
    type = 'application/fhir+json',
  ) => {
    const r = await fetch(`${t.fhirUrl}/${path}`, {
      method,
      headers: { authorization: token, ...(body === undefined ? {} : { 'content-type': type }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await r.text();
    return {
      status: r.status,
      body: (text ? JSON.parse(text) : {}) as { resourceType?: string; id?: string },
    };
  };
  const observation = (patient: string, value: number, id?: string) => ({
    resourceType: 'Observation',
    ...(id ? { id } : {}),
    status: 'final',
    code: { text: 'home blood glucose' },
    subject: { reference: `Patient/${patient}` },
    valueQuantity: { value, unit: 'mg/dL' },
  });

  beforeAll(async () => {
    t = await startTestNode();
    ehr = await t.bearer({ kind: 'system', scope: 'system/*.cruds' });
    ids.alice = await t.create({ resourceType: 'Patient', name: [{ family: 'Alice' }] }, ehr);
    ids.bob = await t.create({ resourceType: 'Patient', name: [{ family: 'Bob' }] }, ehr);
    ids.clinical = await t.create(observation(ids.alice, 180), ehr);
    asAlice = await t.bearer({ kind: 'patient', scope: 'patient/*.cruds', patient: ids.alice });
  });
  afterAll(async () => t?.stop());

  it('a patient cannot change, patch or delete what the clinic authored about her', async () => {
    const put = await call(
      asAlice,
      'PUT',
      `Observation/${ids.clinical}`,
      observation(ids.alice, 95, ids.clinical),
    );
    expect(put.status).toBe(403);
    expect(put.body.resourceType).toBe('OperationOutcome');
    const patch = await call(
      asAlice,
      'PATCH',
      `Observation/${ids.clinical}`,
      [{ op: 'replace', path: '/status', value: 'entered-in-error' }],
      'application/json-patch+json',
    );
    expect(patch.status).toBe(403);
    expect((await call(asAlice, 'DELETE', `Observation/${ids.clinical}`)).status).toBe(403);
    const still = await call(ehr, 'GET', `Observation/${ids.clinical}`);
    expect(JSON.stringify(still.body)).toContain('"value":180');
    expect(JSON.stringify(still.body)).toContain('"status":"final"');
  });

  it('she authors, changes and deletes her own readings', async () => {
    const created = await call(asAlice, 'POST', 'Observation', observation(ids.alice, 110));
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    expect((await call(asAlice, 'PUT', `Observation/${id}`, observation(ids.alice, 111, id))).status).toBe(
      200,
    );
    expect((await call(asAlice, 'DELETE', `Observation/${id}`)).status).toBeLessThan(300);
    // The clinic may still correct what she wrote.
    const another = (await call(asAlice, 'POST', 'Observation', observation(ids.alice, 112))).body
      .id as string;
    expect(
      (await call(ehr, 'PUT', `Observation/${another}`, observation(ids.alice, 113, another))).status,
    ).toBe(200);
  });

  it('she cannot write into another chart, nor author types patients do not write', async () => {
    const coverage = await call(asAlice, 'POST', 'Coverage', {
      resourceType: 'Coverage',
      status: 'active',
      beneficiary: { reference: `Patient/${ids.bob}` },
      payor: [{ display: 'Acme' }],
    });
    expect(coverage.status).toBe(403);
    expect((await call(asAlice, 'POST', 'Observation', observation(ids.bob, 99))).status).toBe(403);
    const condition = await call(asAlice, 'POST', 'Condition', {
      resourceType: 'Condition',
      subject: { reference: `Patient/${ids.alice}` },
      code: { text: 'self-diagnosed' },
    });
    expect(condition.status).toBe(403);
    expect(condition.body.resourceType).toBe('OperationOutcome');
  });
});
