import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestNode, type TestNode } from './testing/startTestNode.ts';

const JSON_PATCH = 'application/json-patch+json';
type RouteName =
  | 'read'
  | 'vread'
  | 'search'
  | 'history'
  | 'everything'
  | 'create'
  | 'update'
  | 'patch'
  | 'delete';

describe('authorization matrix over the FHIR routes (scopes, compartment, on-chain consent, audit)', () => {
  let t: TestNode;
  let admin: string;
  const alice = privateKeyToAccount(generatePrivateKey());
  const bob = privateKeyToAccount(generatePrivateKey());
  const member = privateKeyToAccount(generatePrivateKey()).address.toLowerCase() as `0x${string}`;
  const ids = { alice: '', bob: '', aliceObs: '', bobObs: '' };

  interface Call {
    method: string;
    path: string;
    body?: unknown;
    contentType?: string;
    headers?: Record<string, string>;
  }

  /** Sends one request and asserts it produced exactly one audit event. */
  async function call(
    authorization: string | undefined,
    c: Call,
  ): Promise<{ status: number; body: unknown }> {
    const before = await t.countRows('audit_events');
    const response = await fetch(`${t.fhirUrl}/${c.path}`, {
      method: c.method,
      headers: {
        ...(authorization ? { authorization } : {}),
        ...(c.body === undefined ? {} : { 'content-type': c.contentType ?? 'application/fhir+json' }),
        ...c.headers,
      },
      ...(c.body === undefined ? {} : { body: JSON.stringify(c.body) }),
    });
    const text = await response.text();
    expect(await t.countRows('audit_events'), `${c.method} ${c.path} audited once`).toBe(before + 1);
    return { status: response.status, body: text ? JSON.parse(text) : undefined };
  }

  const observation = (patientId: string) => ({
    resourceType: 'Observation',
    status: 'final',
    code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] },
    subject: { reference: `Patient/${patientId}` },
    valueQuantity: { value: 72, unit: 'beats/min', system: 'http://unitsofmeasure.org', code: '/min' },
  });

  /** Every route, on Alice's data. Writes use fresh copies so each call is independent. */
  const routes = (): Record<RouteName, Call> => ({
    read: { method: 'GET', path: `Observation/${ids.aliceObs}` },
    vread: { method: 'GET', path: `Observation/${ids.aliceObs}/_history/1` },
    search: { method: 'GET', path: `Observation?patient=${ids.alice}` },
    history: { method: 'GET', path: `Observation/${ids.aliceObs}/_history` },
    everything: { method: 'GET', path: `Patient/${ids.alice}/$everything` },
    create: { method: 'POST', path: 'Observation', body: observation(ids.alice) },
    update: {
      method: 'PUT',
      path: `Observation/${ids.aliceObs}`,
      body: { ...observation(ids.alice), id: ids.aliceObs },
    },
    patch: {
      method: 'PATCH',
      path: `Observation/${ids.aliceObs}`,
      body: [{ op: 'replace', path: '/status', value: 'amended' }],
      contentType: JSON_PATCH,
    },
    delete: { method: 'DELETE', path: `Observation/${ids.aliceObs}` },
  });

  beforeAll(async () => {
    t = await startTestNode();
    admin = await t.bearer({ kind: 'system', scope: 'system/*.cruds' });
    const create = async (body: unknown) => {
      const r = await fetch(`${t.fhirUrl}/${(body as { resourceType: string }).resourceType}`, {
        method: 'POST',
        headers: { authorization: admin, 'content-type': 'application/fhir+json' },
        body: JSON.stringify(body),
      });
      expect(r.status).toBe(201);
      return ((await r.json()) as { id: string }).id;
    };
    const patient = (who: typeof alice, family: string) => ({
      resourceType: 'Patient',
      name: [{ family }],
      identifier: [{ system: 'urn:medledger:address', value: who.address.toLowerCase() }],
    });
    ids.alice = await create(patient(alice, 'Alice'));
    ids.bob = await create(patient(bob, 'Bob'));
    ids.aliceObs = await create(observation(ids.alice));
    ids.bobObs = await create(observation(ids.bob));
  });
  afterAll(async () => t?.stop());

  it('no token is 401 on every route', async () => {
    for (const [name, route] of Object.entries(routes()))
      expect((await call(undefined, route)).status, name).toBe(401);
  });

  it('an expired token is 401 on every route', async () => {
    const expired = await t.bearer({ kind: 'system', scope: 'system/*.cruds', lifetimeSeconds: -60 });
    for (const [name, route] of Object.entries(routes()))
      expect((await call(expired, route)).status, name).toBe(401);
  });

  it('a token without the scope is 403 on every route', async () => {
    const wrong = await t.bearer({ kind: 'system', scope: 'system/Practitioner.cruds' });
    for (const [name, route] of Object.entries(routes()))
      expect((await call(wrong, route)).status, name).toBe(403);
  });

  it("another patient's data is 404 for a patient token, and their own is served", async () => {
    const asBob = await t.bearer({
      kind: 'patient',
      scope: 'patient/*.rs',
      patient: ids.bob,
      address: bob.address.toLowerCase(),
    });
    const r = routes();
    for (const name of ['read', 'vread', 'history', 'everything'] as const)
      expect((await call(asBob, r[name])).status, name).toBe(404);
    const own = await call(asBob, { method: 'GET', path: `Observation/${ids.bobObs}` });
    expect(own.status).toBe(200);
    const search = await call(asBob, { method: 'GET', path: 'Observation' });
    expect((search.body as { total: number }).total).toBe(1);
  });

  it('consent decides for another member: none denies, a grant allows, wrong purpose and revocation deny the next request', async () => {
    const asMember = await t.bearer({
      kind: 'system',
      scope: 'system/*.rs',
      address: member,
      internal: false,
    });
    const { read, search, everything } = routes();
    expect((await call(asMember, read)).status).toBe(404);
    expect((await call(asMember, search)).status).toBe(403);

    await t.grant(alice, member, { resourceTypes: ['Observation', 'Patient'], purposes: ['TREAT'] });
    expect((await call(asMember, read)).status).toBe(200);
    const found = await call(asMember, search);
    expect(found.status).toBe(200);
    expect((found.body as { total: number }).total).toBe(1);
    expect((await call(asMember, everything)).status).toBe(200);
    expect((await call(asMember, { ...read, headers: { 'x-purpose-of-use': 'HRESCH' } })).status).toBe(404);
    // Bob gave no consent: his record stays invisible, even by id.
    expect((await call(asMember, { method: 'GET', path: `Observation/${ids.bobObs}` })).status).toBe(404);

    await t.revoke(alice, member);
    expect((await call(asMember, read)).status).toBe(404);
  });

  it('an expired consent denies', { timeout: 60_000 }, async () => {
    const other = privateKeyToAccount(generatePrivateKey()).address.toLowerCase() as `0x${string}`;
    const token = await t.bearer({ kind: 'system', scope: 'system/*.rs', address: other, internal: false });
    const now = Math.floor(Date.now() / 1000);
    await t.grant(alice, other, {
      resourceTypes: ['Observation'],
      purposes: ['TREAT'],
      notBefore: now - 60,
      // Far enough ahead that relaying and mining on a loaded machine cannot outlast it.
      expiry: now + 15,
    });
    expect((await call(token, routes().read)).status).toBe(200);
    await new Promise((r) => setTimeout(r, Math.max(0, (now + 16) * 1000 - Date.now())));
    expect((await call(token, routes().read)).status).toBe(404);
  });

  it("the custodian's own system client may use every route under the treatment relationship", async () => {
    const r = routes();
    for (const name of [
      'read',
      'vread',
      'search',
      'history',
      'everything',
      'create',
      'update',
      'patch',
    ] as const) {
      expect((await call(admin, r[name])).status, name).toBeLessThan(300);
    }
    expect((await call(admin, r.delete)).status).toBeLessThan(300);
  });
});
