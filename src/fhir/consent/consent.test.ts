import { validateResource } from '@medplum/core';
import type { Bundle, Consent, Parameters } from '@medplum/fhirtypes';
import type { Hex, TypedDataDefinition } from 'viem';
import { generatePrivateKey, type PrivateKeyAccount, privateKeyToAccount } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadFhirDefinitions } from '../fhirDefinitions.ts';
import { startTestNode, type TestNode } from '../testing/startTestNode.ts';

/** The parts of a FHIR answer these tests look at (a Consent, Bundle or OperationOutcome). */
type Answer = Consent &
  Pick<Bundle<Consent>, 'total' | 'entry'> & {
    issue: { code: string; details: { text: string } }[];
  };

describe('Consent from chain state, $grant, $revoke and $consent-typed-data', () => {
  let t: TestNode;
  let admin: string;
  let asAlice: string;
  let asBob: string;
  let asMember: string;
  const alice = privateKeyToAccount(generatePrivateKey());
  const bob = privateKeyToAccount(generatePrivateKey());
  const mallory = privateKeyToAccount(generatePrivateKey());
  const member = privateKeyToAccount(generatePrivateKey()).address.toLowerCase() as Hex;
  const ids = { alice: '', bob: '', aliceObs: '', consent: '' };
  let grantBody: Parameters;

  async function fhir(
    authorization: string,
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: Answer; headers: Headers }> {
    const before = await t.countRows('audit_events');
    const response = await fetch(`${t.fhirUrl}/${path}`, {
      method,
      headers: {
        authorization,
        ...(body === undefined ? {} : { 'content-type': 'application/fhir+json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    expect(await t.countRows('audit_events'), `${method} ${path} audited once`).toBe(before + 1);
    return {
      status: response.status,
      body: text ? (JSON.parse(text) as Answer) : ({} as Answer),
      headers: response.headers,
    };
  }

  /** Asks the node for the typed data, signs it as a wallet would, and returns the body to post. */
  async function signedParameters(signer: PrivateKeyAccount, query: string): Promise<Parameters> {
    const r = await fhir(asAlice, 'GET', `Patient/${ids.alice}/$consent-typed-data?${query}`);
    expect(r.status).toBe(200);
    const parameters = r.body as unknown as Parameters;
    const typed = JSON.parse(
      parameters.parameter?.find((p) => p.name === 'typedData')?.valueString as string,
    ) as TypedDataDefinition & { message: Record<string, unknown> };
    const message = { ...typed.message };
    for (const big of ['resourceTypes', 'deadline'])
      if (big in message) message[big] = BigInt(message[big] as string);
    const signature = await signer.signTypedData({ ...typed, message } as TypedDataDefinition);
    return {
      resourceType: 'Parameters',
      parameter: [
        ...(parameters.parameter ?? []).filter((p) => p.name !== 'typedData'),
        { name: 'signature', valueString: signature },
      ],
    };
  }

  /** Consent relays only (anchoring also writes to the outbox, concurrently). */
  async function consentOutboxRows(): Promise<number> {
    const [row] = await t.node.db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM chain_outbox WHERE contract = 'consent'",
    );
    return row?.n ?? 0;
  }

  async function untilStatus(id: string, status: string): Promise<Consent> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const r = await fhir(asAlice, 'GET', `Consent/${id}`);
      if (r.body.status === status) return r.body;
      if (Date.now() > deadline) throw new Error(`Consent ${id} still ${r.body.status}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  beforeAll(async () => {
    loadFhirDefinitions();
    t = await startTestNode();
    admin = await t.bearer({ kind: 'system', scope: 'system/*.cruds' });
    const create = async (body: { resourceType: string } & Record<string, unknown>) => {
      const r = await fetch(`${t.fhirUrl}/${body.resourceType}`, {
        method: 'POST',
        headers: { authorization: admin, 'content-type': 'application/fhir+json' },
        body: JSON.stringify(body),
      });
      expect(r.status).toBe(201);
      return ((await r.json()) as { id: string }).id;
    };
    const patient = (who: PrivateKeyAccount) => ({
      resourceType: 'Patient',
      identifier: [{ system: 'urn:medledger:address', value: who.address.toLowerCase() }],
    });
    ids.alice = await create(patient(alice));
    ids.bob = await create(patient(bob));
    ids.aliceObs = await create({
      resourceType: 'Observation',
      status: 'final',
      code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] },
      subject: { reference: `Patient/${ids.alice}` },
    });
    const patientToken = (id: string, who: PrivateKeyAccount) =>
      t.bearer({
        kind: 'patient',
        scope: 'patient/*.cruds',
        patient: id,
        address: who.address.toLowerCase(),
      });
    asAlice = await patientToken(ids.alice, alice);
    asBob = await patientToken(ids.bob, bob);
    asMember = await t.bearer({ kind: 'system', scope: 'system/*.rs', address: member, internal: false });
  });
  afterAll(async () => t?.stop());

  it('a grant signed by someone other than the patient is 400 and enqueues nothing', async () => {
    const forged = await signedParameters(
      mallory,
      `grantee=${member}&resourceType=Observation&purpose=TREAT`,
    );
    const outbox = await consentOutboxRows();
    const r = await fhir(asAlice, 'POST', `Patient/${ids.alice}/$grant`, forged);
    expect(r.status).toBe(400);
    expect(r.body.resourceType).toBe('OperationOutcome');
    expect(r.body.issue[0]?.details.text).toMatch(/not signed by the patient/);
    expect(await consentOutboxRows()).toBe(outbox);
  });

  it("the typed data, signed by the patient's wallet, is accepted by $grant: proposed at once, active once mined, and the grantee's next read is allowed", async () => {
    expect((await fhir(asMember, 'GET', `Observation/${ids.aliceObs}`)).status).toBe(404);
    grantBody = await signedParameters(
      alice,
      `grantee=${member}&resourceType=Observation,Patient&purpose=TREAT`,
    );
    const r = await fhir(asAlice, 'POST', `Patient/${ids.alice}/$grant`, grantBody);
    expect(r.status).toBe(202);
    expect(r.body.resourceType).toBe('Consent');
    expect(r.body.status).toBe('proposed');
    ids.consent = r.body.id as string;
    expect(r.headers.get('location')).toBe(`${t.fhirUrl}/Consent/${ids.consent}`);

    const active = await untilStatus(ids.consent, 'active');
    expect(active.patient?.reference).toBe(`Patient/${ids.alice}`);
    expect(active.provision?.actor?.[0]?.reference?.identifier?.value).toBe(member);
    expect(active.provision?.class?.map((c) => c.code)).toEqual(['Patient', 'Observation']);
    expect(active.provision?.purpose?.map((c) => c.code)).toEqual(['TREAT']);
    const facts = active.extension?.[0]?.extension ?? [];
    expect(facts.find((e) => e.url === 'signerRole')?.valueCode).toBe('patient');
    expect(facts.find((e) => e.url === 'transaction')?.valueString).toMatch(/^0x[0-9a-f]{64}$/);
    expect(validateResource(active)).toEqual([]);

    expect((await fhir(asMember, 'GET', `Observation/${ids.aliceObs}`)).status).toBe(200);
  });

  it("the patient's Consent search shows the grant, by query, compartment and own token", async () => {
    for (const path of [`Consent?patient=Patient/${ids.alice}`, `Patient/${ids.alice}/Consent`, 'Consent']) {
      const r = await fhir(asAlice, 'GET', path);
      expect(r.status, path).toBe(200);
      const bundle = r.body;
      expect(
        bundle.entry?.map((e) => e.resource?.id),
        path,
      ).toEqual([ids.consent]);
    }
    const inactive = await fhir(asAlice, 'GET', `Consent?patient=${ids.alice}&status=inactive`);
    expect(inactive.body.total).toBe(0);
  });

  it('a replayed signature (its nonce already used) is 409 and enqueues nothing', async () => {
    const outbox = await consentOutboxRows();
    const r = await fhir(asAlice, 'POST', `Patient/${ids.alice}/$grant`, grantBody);
    expect(r.status).toBe(409);
    expect(r.body.issue[0]?.code).toBe('conflict');
    expect(await consentOutboxRows()).toBe(outbox);
  });

  it("another patient sees none of the patient's consents", async () => {
    expect((await fhir(asBob, 'GET', `Consent?patient=Patient/${ids.alice}`)).status).toBe(404);
    expect((await fhir(asBob, 'GET', `Patient/${ids.alice}/Consent`)).status).toBe(404);
    expect((await fhir(asBob, 'GET', `Consent/${ids.consent}`)).status).toBe(404);
    const own = await fhir(asBob, 'GET', 'Consent');
    expect(own.status).toBe(200);
    expect(own.body.total).toBe(0);
    expect((await fhir(asBob, 'POST', `Patient/${ids.alice}/$grant`, grantBody)).status).toBe(404);
  });

  it('a chain-derived Consent cannot be changed by update or delete', async () => {
    const r = await fhir(admin, 'DELETE', `Consent/${ids.consent}`);
    expect(r.status).toBe(405);
    expect((await fhir(asAlice, 'GET', `Consent/${ids.consent}`)).body.status).toBe('active');
  });

  it("$revoke makes the Consent inactive and denies the grantee's next request", async () => {
    const body = await signedParameters(alice, `action=revoke&grantee=${member}`);
    const r = await fhir(asAlice, 'POST', `Patient/${ids.alice}/$revoke?wait=true`, body);
    expect(r.status).toBe(200);
    expect(r.body.id).toBe(ids.consent);
    expect(r.body.status).toBe('inactive');
    const facts = r.body.extension?.[0]?.extension ?? [];
    expect(facts.find((e) => e.url === 'state')?.valueCode).toBe('revoked');
    expect((await fhir(asMember, 'GET', `Observation/${ids.aliceObs}`)).status).toBe(404);
    // Nothing left to revoke.
    const again = await signedParameters(alice, `action=revoke&grantee=${member}`);
    expect((await fhir(asAlice, 'POST', `Patient/${ids.alice}/$revoke`, again)).status).toBe(409);
  });

  it('bad Parameters are a 400 OperationOutcome naming the parameter', async () => {
    const r = await fhir(asAlice, 'POST', `Patient/${ids.alice}/$grant`, {
      resourceType: 'Parameters',
      parameter: [
        { name: 'grantee', valueString: member },
        { name: 'purpose', valueCode: 'NOPE' },
      ],
    });
    expect(r.status).toBe(400);
    expect(r.body.issue[0]?.details.text).toMatch(/purpose/);
  });
});
