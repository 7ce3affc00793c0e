/**
 * Issue 19, "delegates (guardian, proxy) exist in the contract only: no route, no portal screen,
 * no test through the node". Through the node now: the patient appoints a guardian by signing a
 * `Delegate` message (`$delegate-typed-data`, `$delegate`); the guardian, with their own key,
 * signs a grant for the patient and relays it (`$grant`); the grantee reads; the patient sees
 * the consent as signed by her delegate and the delegate under "who has access". A delegate
 * reads the patient's consents, not her records; cannot appoint others; a stranger's signature
 * is refused; once the patient ends the appointment the guardian can no longer sign for her.
 */
import type { Address, Hex, LocalAccount } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consentDomain, consentTypes } from '../../src/chain/consent/consentTypedData.ts';
import { startTestNode, type TestNode } from '../../src/fhir/testing/startTestNode.ts';

/** Parsed JSON, read loosely by the assertions. */
type Json = ReturnType<typeof JSON.parse>;
type Parameter = { name: string; valueString?: string; valueCode?: string };

describe('delegates end to end through the node', () => {
  let t: TestNode;
  const alice = privateKeyToAccount(generatePrivateKey());
  const guardian = privateKeyToAccount(generatePrivateKey());
  const stranger = privateKeyToAccount(generatePrivateKey());
  const doctor = privateKeyToAccount(generatePrivateKey());
  const ids = { alice: '', guardian: '', stranger: '', obs: '' };
  const tokens = { alice: '', guardian: '', stranger: '', doctor: '' };

  const call = async (authorization: string, method: string, path: string, body?: unknown) => {
    const response = await fetch(`${t.fhirUrl}/${path}`, {
      method,
      headers: { authorization, ...(body === undefined ? {} : { 'content-type': 'application/fhir+json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: response.status, body: (await response.json().catch(() => undefined)) as Json };
  };
  /** Signs the typed data a `$...-typed-data` answer carries, as a wallet would. */
  const signAnswer = async (
    signer: LocalAccount,
    answer: Json,
  ): Promise<{ params: Parameter[]; signature: Hex }> => {
    const params = (answer.parameter as Parameter[]).filter((p) => p.name !== 'typedData');
    const typed = JSON.parse(
      (answer.parameter as Parameter[]).find((p) => p.name === 'typedData')!.valueString!,
    );
    const fields = consentTypes[typed.primaryType as keyof typeof consentTypes];
    const message = Object.fromEntries(
      fields.map((f) => [
        f.name,
        f.type.startsWith('uint') ? BigInt(typed.message[f.name]) : typed.message[f.name],
      ]),
    );
    expect(typed.domain).toEqual(
      consentDomain(t.node.chain.addresses.chainId, t.node.chain.addresses.consent),
    );
    const signature = await signer.signTypedData({
      domain: typed.domain,
      types: consentTypes,
      primaryType: typed.primaryType,
      message: message as never,
    });
    return { params, signature };
  };
  const appoint = async (as: string, signer: LocalAccount, delegate: Address, until: number) => {
    const typed = await call(
      as,
      'GET',
      `Patient/${ids.alice}/$delegate-typed-data?delegate=${delegate}&until=${until}`,
    );
    expect(typed.status).toBe(200);
    const { params, signature } = await signAnswer(signer, typed.body);
    return call(as, 'POST', `Patient/${ids.alice}/$delegate?wait=true`, {
      resourceType: 'Parameters',
      parameter: [...params, { name: 'signature', valueString: signature }],
    });
  };
  const grantFor = async (as: string, signer: LocalAccount, grantee: Address) => {
    const typed = await call(
      as,
      'GET',
      `Patient/${ids.alice}/$consent-typed-data?grantee=${grantee}&resourceType=Observation&purpose=TREAT`,
    );
    if (typed.status !== 200) return typed;
    const { params, signature } = await signAnswer(signer, typed.body);
    return call(as, 'POST', `Patient/${ids.alice}/$grant?wait=true`, {
      resourceType: 'Parameters',
      parameter: [...params, { name: 'signature', valueString: signature }],
    });
  };
  const doctorReads = async () => (await call(tokens.doctor, 'GET', `Observation/${ids.obs}`)).status;

  beforeAll(async () => {
    t = await startTestNode();
    const ehr = await t.bearer({ kind: 'system', scope: 'system/*.cruds' });
    const patient = (who: typeof alice, family: string) => ({
      resourceType: 'Patient',
      name: [{ family }],
      identifier: [{ system: 'urn:medledger:address', value: who.address.toLowerCase() }],
    });
    ids.alice = await t.create(patient(alice, 'Minor'), ehr);
    ids.guardian = await t.create(patient(guardian, 'Guardian'), ehr);
    ids.stranger = await t.create(patient(stranger, 'Stranger'), ehr);
    ids.obs = await t.create(
      {
        resourceType: 'Observation',
        status: 'final',
        code: { text: 'peak flow' },
        subject: { reference: `Patient/${ids.alice}` },
      },
      ehr,
    );
    const patientToken = (id: string, who: typeof alice) =>
      t.bearer({
        kind: 'patient',
        scope: 'patient/*.cruds',
        patient: id,
        address: who.address.toLowerCase(),
      });
    tokens.alice = await patientToken(ids.alice, alice);
    tokens.guardian = await patientToken(ids.guardian, guardian);
    tokens.stranger = await patientToken(ids.stranger, stranger);
    tokens.doctor = await t.bearer({
      kind: 'system',
      scope: 'system/*.rs',
      address: doctor.address.toLowerCase(),
      internal: false,
    });
  }, 120_000);
  afterAll(async () => t?.stop());

  it('before any appointment the guardian reaches nothing of hers', async () => {
    expect((await call(tokens.guardian, 'GET', `Patient/${ids.alice}/Consent`)).status).toBe(404);
    expect((await grantFor(tokens.guardian, guardian, doctor.address)).status).toBe(404);
  });

  it('the patient appoints her guardian by signing; the guardian grants for her; the grantee reads', async () => {
    const until = Math.floor(Date.now() / 1000) + 30 * 86_400;
    // Only the patient appoints: the guardian signing her own appointment is refused.
    expect((await appoint(tokens.alice, guardian, guardian.address, until)).status).toBe(400);
    const appointed = await appoint(tokens.alice, alice, guardian.address, until);
    expect(appointed.status).toBe(200);
    expect(appointed.body.parameter).toContainEqual({ name: 'status', valueCode: 'active' });

    // The guardian reads her consents, not her records.
    expect((await call(tokens.guardian, 'GET', `Patient/${ids.alice}/Consent`)).status).toBe(200);
    expect((await call(tokens.guardian, 'GET', `Observation/${ids.obs}`)).status).toBe(404);
    expect(await doctorReads()).toBe(404);

    const granted = await grantFor(tokens.guardian, guardian, doctor.address);
    expect(granted.status).toBe(200);
    expect(granted.body.status).toBe('active');
    expect(await doctorReads()).toBe(200);

    // The patient sees the consent, signed by her delegate, and the delegate among who has access.
    const consents = await call(tokens.alice, 'GET', `Patient/${ids.alice}/Consent?status=active`);
    expect(JSON.stringify(consents.body)).toContain('"signerRole"');
    expect(JSON.stringify(consents.body)).toContain('"delegate"');
    const who = await fetch(
      `${t.fhirUrl.replace(/\/fhir$/, '')}/portal/api/patients/${ids.alice}/who-has-access`,
      {
        headers: { authorization: tokens.alice },
      },
    );
    const entries = ((await who.json()) as Json).entries as Json[];
    expect(entries.filter((e) => e.basis === 'delegate').map((e) => e.address)).toEqual([
      guardian.address.toLowerCase(),
    ]);
    // The guardian cannot appoint someone else.
    expect((await appoint(tokens.guardian, guardian, stranger.address, until)).status).toBe(400);
  }, 120_000);

  it("a stranger's signature is refused; once the appointment ends the guardian can no longer sign", async () => {
    // A stranger signing for her, relayed through her own token: refused before the chain.
    const typed = await call(
      tokens.alice,
      'GET',
      `Patient/${ids.alice}/$consent-typed-data?grantee=${stranger.address}&resourceType=Observation&purpose=TREAT`,
    );
    const { params, signature } = await signAnswer(stranger, typed.body);
    const forged = await call(tokens.alice, 'POST', `Patient/${ids.alice}/$grant`, {
      resourceType: 'Parameters',
      parameter: [...params, { name: 'signature', valueString: signature }],
    });
    expect(forged.status).toBe(400);
    expect((await call(tokens.stranger, 'GET', `Patient/${ids.alice}/Consent`)).status).toBe(404);

    expect((await appoint(tokens.alice, alice, guardian.address, 0)).status).toBe(200);
    expect((await call(tokens.guardian, 'GET', `Patient/${ids.alice}/Consent`)).status).toBe(404);
    // Her own token relaying what the former guardian signs: refused, not relayed.
    const again = await call(
      tokens.alice,
      'GET',
      `Patient/${ids.alice}/$consent-typed-data?action=revoke&grantee=${doctor.address}`,
    );
    const revokeSigned = await signAnswer(guardian, again.body);
    const refused = await call(tokens.alice, 'POST', `Patient/${ids.alice}/$revoke`, {
      resourceType: 'Parameters',
      parameter: [...revokeSigned.params, { name: 'signature', valueString: revokeSigned.signature }],
    });
    expect(refused.status).toBe(400);
    // The grant the guardian made while appointed stands (the patient revokes it if she wants).
    expect(await doctorReads()).toBe(200);
  }, 120_000);
});
