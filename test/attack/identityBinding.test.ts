/**
 * Issue 19, "a patient's chain identity is not resource data": the binding Patient id <-> chain
 * address lives in its own table (`patient_identities`, unique both ways, every change kept in
 * `patient_identity_changes`). It is set when the Patient is first stored with an address, changed
 * only by `$claim` (a claim code and the new key) or `$change-key` (signed by the current key and
 * the new one), and a write of the Patient never changes it. A patient who lost their key gets a
 * new claim code from a privacy officer (`medledger patient reissue-claim`, audited with a reason).
 * Consents signed with an old key stop applying when the binding moves.
 */
import type { Address } from 'viem';
import { generatePrivateKey, type PrivateKeyAccount, privateKeyToAccount } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { patientReissueClaimCommand } from '../../src/cli/commands/patientReissueClaim.ts';
import { keyChangeMessage } from '../../src/fhir/identity/changeKey.ts';
import { claimMessage } from '../../src/fhir/identity/patientClaims.ts';
import { backfillPatientIdentities } from '../../src/fhir/identity/patientIdentities.ts';
import { startTestNode, type TestNode } from '../../src/fhir/testing/startTestNode.ts';

const ADDRESS = 'urn:medledger:address';
/** Parsed JSON, read loosely by the assertions. */
type Json = ReturnType<typeof JSON.parse>;

describe("a patient's chain identity is a binding of its own, not resource data", () => {
  let t: TestNode;
  let ehr: string;
  const first = privateKeyToAccount(generatePrivateKey());
  const second = privateKeyToAccount(generatePrivateKey());
  const third = privateKeyToAccount(generatePrivateKey());
  const reader = privateKeyToAccount(generatePrivateKey());
  const ids = { patient: '', observation: '' };

  const call = async (authorization: string | undefined, method: string, path: string, body?: unknown) => {
    const response = await fetch(`${t.fhirUrl}/${path}`, {
      method,
      headers: {
        ...(authorization ? { authorization } : {}),
        ...(body === undefined ? {} : { 'content-type': 'application/fhir+json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: response.status, body: (await response.json().catch(() => undefined)) as Json };
  };
  const binding = async () =>
    (
      await t.node.db.query<{ address: string; method: string }>(
        'SELECT address, method FROM patient_identities WHERE patient_id = $1',
        [ids.patient],
      )
    )[0];
  const readerStatus = async () =>
    (
      await call(
        await t.bearer({
          kind: 'practitioner',
          scope: 'user/*.rs',
          subject: 'dr-reader',
          fhirUser: 'Practitioner/dr-reader',
          address: reader.address.toLowerCase(),
        }),
        'GET',
        `Observation/${ids.observation}`,
      )
    ).status;
  const changeKey = async (from: PrivateKeyAccount, to: PrivateKeyAccount, signer = from) => {
    const deadline = Math.floor(Date.now() / 1000) + 3600;
    const message = keyChangeMessage(ids.patient, from.address, to.address, deadline);
    return call(undefined, 'POST', `Patient/${ids.patient}/$change-key`, {
      newAddress: to.address,
      signature: await signer.signMessage({ message }),
      newSignature: await to.signMessage({ message }),
      deadline,
    });
  };

  beforeAll(async () => {
    t = await startTestNode();
    ehr = await t.bearer({ kind: 'system', scope: 'system/*.cruds' });
    ids.patient = await t.create(
      {
        resourceType: 'Patient',
        name: [{ family: 'Bound' }],
        identifier: [{ system: ADDRESS, value: first.address.toLowerCase() }],
      },
      ehr,
    );
    ids.observation = await t.create(
      {
        resourceType: 'Observation',
        status: 'final',
        code: { text: 'creatinine' },
        subject: { reference: `Patient/${ids.patient}` },
      },
      ehr,
    );
  });
  afterAll(async () => t?.stop());

  it('is set with the first stored version, unique, and never changed by a write', async () => {
    expect(await binding()).toEqual({ address: first.address.toLowerCase(), method: 'created' });
    const current = (await call(ehr, 'GET', `Patient/${ids.patient}`)).body;
    const moved = await call(ehr, 'PUT', `Patient/${ids.patient}`, {
      ...current,
      identifier: [{ system: ADDRESS, value: second.address.toLowerCase() }],
    });
    expect(moved.status).toBe(403);
    expect(JSON.stringify(moved.body)).toContain('Patient.identifier');
    expect(await binding()).toMatchObject({ address: first.address.toLowerCase() });
    // The same address on a second Patient is refused: it would take over the first's consents.
    const twin = await call(ehr, 'POST', 'Patient', {
      resourceType: 'Patient',
      identifier: [{ system: ADDRESS, value: first.address.toUpperCase().replace('0X', '0x') }],
    });
    expect(twin.status).toBe(409);
    // A Patient written without an address reads back exactly as written, and has no binding.
    const plain = await call(ehr, 'POST', 'Patient', {
      resourceType: 'Patient',
      name: [{ family: 'Plain' }],
    });
    expect(plain.body.identifier).toBeUndefined();
    const [row] = await t.node.db.query('SELECT 1 FROM patient_identities WHERE patient_id = $1', [
      plain.body.id,
    ]);
    expect(row).toBeUndefined();
  });

  it('$change-key needs the current key and the new one; old consents stop applying', async () => {
    await t.grant(first, reader.address as Address, { resourceTypes: ['Observation'], purposes: ['TREAT'] });
    expect(await readerStatus()).toBe(200);

    // Signed by someone else than the current key (an insider with a key of their own): refused.
    const forged = await changeKey(first, second, third);
    expect(forged.status).toBe(400);
    expect(forged.body.resourceType).toBe('OperationOutcome');
    expect(await binding()).toMatchObject({ address: first.address.toLowerCase() });

    const changed = await changeKey(first, second);
    expect(changed.status).toBe(200);
    expect(changed.body.identifier).toEqual([{ system: ADDRESS, value: second.address.toLowerCase() }]);
    expect(await binding()).toEqual({ address: second.address.toLowerCase(), method: 'key-change' });
    const history = await t.node.db.query<{ method: string; new_address: string }>(
      'SELECT method, new_address FROM patient_identity_changes WHERE patient_id = $1 ORDER BY id',
      [ids.patient],
    );
    expect(history.map((h) => h.method)).toEqual(['created', 'key-change']);
    // The grant was signed for the old address: it no longer opens the record...
    expect(await readerStatus()).toBe(404);
    // ...a grant with the new key does. The old key cannot move it again.
    await t.grant(second, reader.address as Address, { resourceTypes: ['Observation'], purposes: ['TREAT'] });
    expect(await readerStatus()).toBe(200);
    expect((await changeKey(first, third)).status).toBe(400);
  });

  it('a lost key: the officer reissues a claim code (audited, with the reason), the patient binds a new key', async () => {
    const reason = 'identity checked in person with a passport at the records office';
    await expect(
      patientReissueClaimCommand.run(t.node, { values: { reason: 'short' }, positionals: [ids.patient] }),
    ).rejects.toThrow(/--reason/);
    const issued = await patientReissueClaimCommand.run(t.node, {
      values: { reason },
      positionals: [`Patient/${ids.patient}`],
    });
    const code = (issued.json as { claim_code: string }).claim_code;
    const again = await patientReissueClaimCommand.run(t.node, {
      values: { reason },
      positionals: [ids.patient],
    });
    const latest = (again.json as { claim_code: string }).claim_code;
    const claim = async (claimCode: string, key: PrivateKeyAccount) =>
      call(undefined, 'POST', `Patient/${ids.patient}/$claim`, {
        claimCode,
        newAddress: key.address,
        signature: await key.signMessage({ message: claimMessage(ids.patient, claimCode) }),
      });
    // The first code was replaced by the second.
    expect((await claim(code, third)).status).toBe(400);
    const claimed = await claim(latest, third);
    expect(claimed.status).toBe(200);
    expect(await binding()).toEqual({ address: third.address.toLowerCase(), method: 'claim' });
    expect((await claim(latest, first)).status).toBe(409);
    expect(await readerStatus()).toBe(404);

    // The patient finds the officer's procedure, with its reason, in their access report.
    await t.node.audit.flush();
    const asPatient = await t.bearer({ kind: 'patient', scope: 'patient/*.rs', patient: ids.patient });
    const report = JSON.stringify(
      (await call(asPatient, 'GET', `Patient/${ids.patient}/$access-report`)).body,
    );
    expect(report).toContain(reason);
    expect(report).toContain('$change-key');
  });

  it('Patients stored before the binding table are bound once from their identifier', async () => {
    await t.node.db.query('DELETE FROM patient_identities WHERE patient_id = $1', [ids.patient]);
    await t.node.db.query('UPDATE patient_identity_backfill SET pending = true');
    expect(await backfillPatientIdentities(t.node.db, t.node.vault)).toBe(1);
    expect(await binding()).toEqual({ address: third.address.toLowerCase(), method: 'recorded' });
    expect(await backfillPatientIdentities(t.node.db, t.node.vault)).toBe(0);
  });
});
