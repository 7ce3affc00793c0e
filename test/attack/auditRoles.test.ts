/**
 * Issue 19, "no roles among internal users": a clinician read the institution's whole audit log
 * (`GET /fhir/AuditEvent`). The audit log is for privacy officers (and the institution's backend
 * systems); a clinician is refused, audited; a patient reads only their own events.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestNode, type TestNode } from '../../src/fhir/testing/startTestNode.ts';

describe('the audit log is for privacy officers', () => {
  let t: TestNode;
  let patientId: string;

  const status = async (authorization: string, path: string) =>
    (await fetch(`${t.fhirUrl}/${path}`, { headers: { authorization } })).status;

  beforeAll(async () => {
    // Every practitioner reads clinical records here: what is refused is the audit log alone.
    t = await startTestNode({ env: { MEDLEDGER_TREATMENT_ACCESS: 'institution' } });
    const ehr = await t.bearer({ kind: 'system', scope: 'system/*.cruds' });
    patientId = await t.create({ resourceType: 'Patient', name: [{ family: 'Audited' }] }, ehr);
    await t.node.audit.flush();
  });
  afterAll(async () => t?.stop());

  it('a clinician is refused the audit log, an officer and the backend system read it, a patient only their own', async () => {
    const clinician = await t.bearer({ kind: 'practitioner', scope: 'user/*.rs', subject: 'dr-curious' });
    const officer = await t.bearer({ kind: 'officer', scope: 'user/*.rs', subject: 'privacy-officer' });
    const system = await t.bearer({ kind: 'system', scope: 'system/*.rs' });
    const patient = await t.bearer({ kind: 'patient', scope: 'patient/*.rs', patient: patientId });
    expect(await status(clinician, 'AuditEvent')).toBe(403);
    expect(await status(clinician, `AuditEvent?patient=Patient/${patientId}`)).toBe(403);
    expect(await status(clinician, `Patient/${patientId}`)).toBe(200);
    expect(await status(officer, 'AuditEvent')).toBe(200);
    expect(await status(system, 'AuditEvent')).toBe(200);
    expect(await status(patient, `AuditEvent?patient=Patient/${patientId}`)).toBe(200);
    expect(await status(patient, 'AuditEvent?patient=Patient/someone-else')).toBe(404);
  });
});

describe('an officer reads clinical records only through the review of one specific access', () => {
  let t: TestNode;
  let ehr: string;
  const ids = { patient: '', observation: '' };

  beforeAll(async () => {
    t = await startTestNode({ env: { MEDLEDGER_TREATMENT_ACCESS: 'institution' } });
    ehr = await t.bearer({ kind: 'system', scope: 'system/*.cruds' });
    ids.patient = await t.create({ resourceType: 'Patient', name: [{ family: 'Reviewed' }] }, ehr);
    ids.observation = await t.create(
      {
        resourceType: 'Observation',
        status: 'final',
        code: { text: 'ferritin' },
        subject: { reference: `Patient/${ids.patient}` },
      },
      ehr,
    );
  });
  afterAll(async () => t?.stop());

  it('the review shows what that access served, is audited for the patient, and is for officers only', async () => {
    const clinician = await t.bearer({ kind: 'practitioner', scope: 'user/*.rs', subject: 'dr-looked' });
    const officer = await t.bearer({ kind: 'officer', scope: 'user/*.rs', subject: 'privacy-officer' });
    const read = await fetch(`${t.fhirUrl}/Observation/${ids.observation}`, {
      headers: { authorization: clinician },
    });
    expect(read.status).toBe(200);
    expect(
      (await fetch(`${t.fhirUrl}/Observation/${ids.observation}`, { headers: { authorization: officer } }))
        .status,
    ).toBe(404);
    await t.node.audit.flush();
    const search = await fetch(`${t.fhirUrl}/AuditEvent?agent=dr-looked&_sort=-date&_count=1`, {
      headers: { authorization: officer },
    });
    const event = ((await search.json()) as { entry: { resource: { id: string } }[] }).entry[0]!.resource;
    const base = t.fhirUrl.replace(/\/fhir$/, '');
    const review = (authorization: string, id = event.id) =>
      fetch(`${base}/portal/api/officer/access-review/${id}`, { headers: { authorization } });

    const answer = await review(officer);
    expect(answer.status).toBe(200);
    const body = (await answer.json()) as {
      records: { reference: string; resource?: { code?: { text?: string } } }[];
    };
    expect(body.records.map((r) => r.reference)).toEqual([`Observation/${ids.observation}/_history/1`]);
    expect(body.records[0]?.resource?.code?.text).toBe('ferritin');
    expect((await review(clinician)).status).toBe(403);
    expect((await review(officer, '999999')).status).toBe(404);
    expect((await review(officer, 'x')).status).toBe(400);

    // The review is in the patient's access report.
    await t.node.audit.flush();
    const asPatient = await t.bearer({ kind: 'patient', scope: 'patient/*.rs', patient: ids.patient });
    const report = await fetch(`${t.fhirUrl}/Patient/${ids.patient}/$access-report`, {
      headers: { authorization: asPatient },
    });
    expect(JSON.stringify(await report.json())).toContain(`AuditEvent/${event.id}/access-review`);
  });
});
