/**
 * Issue 19, '"Revoked" is not true for the custodian's own staff': the default treatment
 * relationship let every internal user read every patient for TREAT, even after the patient
 * revoked them, and a privacy officer read clinical records. Now treatment access is a policy
 * (`MEDLEDGER_TREATMENT_ACCESS`, default `care-team`): a practitioner reads a patient under it
 * only with a care relationship in the records, never after the patient revoked them, and the
 * audit event says which relationship; officers never read clinical records under it.
 */
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestNode, type TestNode } from '../../src/fhir/testing/startTestNode.ts';

describe('treatment access by care relationship, honouring the patient’s revocation', () => {
  let t: TestNode;
  let ehr: string;
  const alice = privateKeyToAccount(generatePrivateKey());
  const carer = privateKeyToAccount(generatePrivateKey());
  const stranger = privateKeyToAccount(generatePrivateKey());
  const ids = { alice: '', observation: '', carer: '', stranger: '' };

  const read = async (authorization: string) =>
    (await fetch(`${t.fhirUrl}/Observation/${ids.observation}`, { headers: { authorization } })).status;
  const practitioner = (who: typeof carer, id: string) =>
    t.bearer({
      kind: 'practitioner',
      scope: 'user/*.rs',
      subject: `dr-${id}`,
      fhirUser: `Practitioner/${id}`,
      address: who.address.toLowerCase(),
    });

  beforeAll(async () => {
    t = await startTestNode();
    ehr = await t.bearer({ kind: 'system', scope: 'system/*.cruds' });
    ids.carer = await t.create({ resourceType: 'Practitioner', name: [{ family: 'Carer' }] }, ehr);
    ids.stranger = await t.create({ resourceType: 'Practitioner', name: [{ family: 'Stranger' }] }, ehr);
    ids.alice = await t.create(
      {
        resourceType: 'Patient',
        name: [{ family: 'Alice' }],
        identifier: [{ system: 'urn:medledger:address', value: alice.address.toLowerCase() }],
      },
      ehr,
    );
    ids.observation = await t.create(
      {
        resourceType: 'Observation',
        status: 'final',
        code: { text: 'ecg' },
        subject: { reference: `Patient/${ids.alice}` },
      },
      ehr,
    );
    await t.create(
      {
        resourceType: 'Encounter',
        status: 'finished',
        class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB' },
        subject: { reference: `Patient/${ids.alice}` },
        participant: [{ individual: { reference: `Practitioner/${ids.carer}` } }],
        period: { start: new Date(Date.now() - 3600_000).toISOString(), end: new Date().toISOString() },
      },
      ehr,
    );
  });
  afterAll(async () => t?.stop());

  it('the practitioner of her encounter reads; one without a relationship and an officer do not', async () => {
    expect(await read(await practitioner(carer, ids.carer))).toBe(200);
    await t.node.audit.flush();
    const asAlice = await t.bearer({ kind: 'patient', scope: 'patient/*.rs', patient: ids.alice });
    const report = await fetch(`${t.fhirUrl}/Patient/${ids.alice}/$access-report`, {
      headers: { authorization: asAlice },
    });
    expect(JSON.stringify(await report.json())).toContain(`care team: participant of Encounter/`);
    expect(await read(await practitioner(stranger, ids.stranger))).toBe(404);
    const officer = await t.bearer({ kind: 'officer', scope: 'user/*.rs', subject: 'privacy-officer' });
    expect(await read(officer)).toBe(404);
    expect(await read(ehr)).toBe(200);
  });

  it('the patient restricts a named clinician of her care team (HIPAA right to request restrictions), and lifts it', async () => {
    const token = await practitioner(carer, ids.carer);
    expect(await read(token)).toBe(200);
    const base = t.fhirUrl.replace(/\/fhir$/, '');
    const asAlice = await t.bearer({ kind: 'patient', scope: 'patient/*.rs', patient: ids.alice });
    const who = async () => {
      const response = await fetch(`${base}/portal/api/patients/${ids.alice}/who-has-access`, {
        headers: { authorization: asAlice },
      });
      return ((await response.json()) as { entries: { basis: string; fhirUser?: string }[] }).entries;
    };
    expect((await who()).filter((e) => e.basis === 'treatment-relationship').map((e) => e.fhirUser)).toEqual([
      `Practitioner/${ids.carer}`,
    ]);
    const restrict = (authorization: string, practitionerRef: string) =>
      fetch(`${base}/portal/api/patients/${ids.alice}/restrictions`, {
        method: 'POST',
        headers: { authorization, 'content-type': 'application/json' },
        body: JSON.stringify({ practitioner: practitionerRef }),
      });
    // Nobody else restricts for her, and a malformed reference is a 400.
    const other = await t.bearer({ kind: 'patient', scope: 'patient/*.rs', patient: 'someone-else' });
    expect((await restrict(other, `Practitioner/${ids.carer}`)).status).toBe(404);
    expect((await restrict(asAlice, 'Observation/1')).status).toBe(400);
    expect(await read(token)).toBe(200);

    expect((await restrict(asAlice, `Practitioner/${ids.carer}`)).status).toBe(200);
    expect(await read(token)).toBe(404);
    const entries = await who();
    expect(entries.filter((e) => e.basis === 'treatment-relationship')).toEqual([]);
    expect(entries.filter((e) => e.basis === 'restricted').map((e) => e.fhirUser)).toEqual([
      `Practitioner/${ids.carer}`,
    ]);
    // The restriction is the patient's to lift.
    const lifted = await fetch(`${base}/portal/api/patients/${ids.alice}/restrictions/${ids.carer}`, {
      method: 'DELETE',
      headers: { authorization: asAlice },
    });
    expect(lifted.status).toBe(200);
    expect(await read(token)).toBe(200);
  });

  it('once the patient revokes the practitioner, the care relationship no longer opens her records', async () => {
    const token = await practitioner(carer, ids.carer);
    await t.grant(alice, carer.address, { resourceTypes: ['Observation'], purposes: ['TREAT'] });
    expect(await read(token)).toBe(200);
    await t.revoke(alice, carer.address);
    expect(await read(token)).toBe(404);
  });
});
