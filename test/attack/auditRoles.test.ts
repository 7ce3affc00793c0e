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
