/**
 * Reproductions of issue 18 ("one door"): what was found tried as an attacker and an auditor, each
 * a request a client can make. Every version served, listed or counted is decided for every
 * patient of its own compartment; "not there" and "not yours" look the same; every patient whose
 * data a request touched finds it in their `$access-report`.
 */
import type { Bundle, BundleEntry } from '@medplum/fhirtypes';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestNode, type TestNode } from './testing/startTestNode.ts';

describe('one door: every path decides each version for all its patients, and accounts for it', () => {
  let t: TestNode;
  let ehr: string;
  const alice = privateKeyToAccount(generatePrivateKey());
  const bob = privateKeyToAccount(generatePrivateKey());
  const member = privateKeyToAccount(generatePrivateKey()).address.toLowerCase() as `0x${string}`;
  const ids = { alice: '', bob: '' };
  let asAlice: string;
  let asBob: string;
  let asMember: string;

  async function call(
    authorization: string,
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: Record<string, unknown> & Partial<Bundle> }> {
    const r = await fetch(`${t.fhirUrl}/${path}`, {
      method,
      headers: {
        authorization,
        ...(body === undefined ? {} : { 'content-type': 'application/fhir+json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await r.text();
    return { status: r.status, body: text ? JSON.parse(text) : {} };
  }

  const observation = (patientId: string, value: number, code = '8867-4') => ({
    resourceType: 'Observation',
    status: 'final',
    code: { coding: [{ system: 'http://loinc.org', code }] },
    subject: { reference: `Patient/${patientId}` },
    valueQuantity: { value, unit: 'beats/min', system: 'http://unitsofmeasure.org', code: '/min' },
  });
  const entries = (bundle: Partial<Bundle>): BundleEntry[] => bundle.entry ?? [];
  const reportOf = async (patientId: string, token: string) => {
    const report = await call(token, 'GET', `Patient/${patientId}/$access-report`);
    expect(report.status).toBe(200);
    return JSON.stringify(report.body);
  };

  beforeAll(async () => {
    t = await startTestNode();
    ehr = await t.bearer({ kind: 'system', scope: 'system/*.cruds' });
    const patient = (who: typeof alice, family: string) => ({
      resourceType: 'Patient',
      name: [{ family }],
      identifier: [{ system: 'urn:medledger:address', value: who.address.toLowerCase() }],
    });
    ids.alice = await t.create(patient(alice, 'Alice'), ehr);
    ids.bob = await t.create(patient(bob, 'Bob'), ehr);
    asAlice = await t.bearer({
      kind: 'patient',
      scope: 'patient/*.cruds',
      patient: ids.alice,
      address: alice.address.toLowerCase(),
    });
    asBob = await t.bearer({
      kind: 'patient',
      scope: 'patient/*.rs',
      patient: ids.bob,
      address: bob.address.toLowerCase(),
    });
    asMember = await t.bearer({ kind: 'system', scope: 'system/*.rs', address: member, internal: false });
  });
  afterAll(async () => t?.stop());

  it("history never shows a version of another patient's compartment (a resource moved from Bob to Alice)", async () => {
    const id = await t.create(observation(ids.bob, 61), ehr);
    const moved = await call(ehr, 'PUT', `Observation/${id}`, { ...observation(ids.alice, 62), id });
    expect(moved.status).toBe(200);
    const history = await call(asAlice, 'GET', `Observation/${id}/_history`);
    expect(history.status).toBe(200);
    expect(entries(history.body).map((e) => e.response?.etag)).toEqual(['W/"2"']);
    expect(history.body.total).toBe(1);
    expect(JSON.stringify(history.body)).not.toContain(ids.bob);
    // Bob sees his version 1 only; neither sees the other's version by vread.
    const bobs = await call(asBob, 'GET', `Observation/${id}/_history`);
    expect(entries(bobs.body).map((e) => e.response?.etag)).toEqual(['W/"1"']);
    expect((await call(asAlice, 'GET', `Observation/${id}/_history/1`)).status).toBe(404);
    expect((await call(asBob, 'GET', `Observation/${id}/_history/2`)).status).toBe(404);
  });

  it("a deleted id of Bob's is never re-used for Alice by a PUT, and its history stays Bob's", async () => {
    const id = await t.create(observation(ids.bob, 63), ehr);
    expect((await call(ehr, 'DELETE', `Observation/${id}`)).status).toBeLessThan(300);
    const reuse = await call(asAlice, 'PUT', `Observation/${id}`, { ...observation(ids.alice, 64), id });
    expect([403, 404, 409]).toContain(reuse.status);
    expect(reuse.body.resourceType).toBe('OperationOutcome');
    // Even the custodian's own client may not move a deleted record into another chart.
    const byEhr = await call(ehr, 'PUT', `Observation/${id}`, { ...observation(ids.alice, 64), id });
    expect(byEhr.status).toBe(409);
    const history = await call(asAlice, 'GET', `Observation/${id}/_history`);
    expect(history.status).toBe(404);
    expect(JSON.stringify(history.body)).not.toContain('63');
    // Bob's own history shows his version and its deletion.
    const bobs = await call(asBob, 'GET', `Observation/${id}/_history`);
    expect(entries(bobs.body).map((e) => e.request?.method)).toEqual(['DELETE', 'POST']);
  });

  it('type and system history leave out versions the caller may not see, deletions included', async () => {
    const id = await t.create(observation(ids.bob, 65), ehr);
    await call(ehr, 'DELETE', `Observation/${id}`);
    for (const path of ['Observation/_history', '_history']) {
      const seen = JSON.stringify((await call(asAlice, 'GET', path)).body);
      expect(seen, path).not.toContain(id);
      expect(seen, path).not.toContain(ids.bob);
    }
    const bobs = entries((await call(asBob, 'GET', 'Observation/_history')).body);
    const mine = bobs.filter((e) => e.fullUrl?.endsWith(`/${id}`)).map((e) => e.request?.method);
    expect(mine).toEqual(['DELETE', 'POST']);
  });

  it('a resource in two compartments is served only to callers allowed for both', async () => {
    const coverage = await t.create(
      {
        resourceType: 'Coverage',
        status: 'active',
        policyHolder: { reference: `Patient/${ids.alice}` },
        subscriber: { reference: `Patient/${ids.alice}` },
        beneficiary: { reference: `Patient/${ids.bob}` },
        payor: [{ display: 'Acme Health' }],
      },
      ehr,
    );
    await t.grant(bob, member, { resourceTypes: ['Patient', 'Coverage'], purposes: ['TREAT'] });
    expect((await call(asMember, 'GET', `Coverage/${coverage}`)).status).toBe(404);
    const everything = await call(asMember, 'GET', `Patient/${ids.bob}/$everything`);
    expect(everything.status).toBe(200);
    expect(JSON.stringify(everything.body)).not.toContain(coverage);
    const search = await call(asMember, 'GET', `Coverage?beneficiary=Patient/${ids.bob}`);
    expect(search.status).toBe(200);
    expect(JSON.stringify(search.body)).not.toContain(coverage);
    const count = await call(asMember, 'GET', `Coverage?beneficiary=Patient/${ids.bob}&_summary=count`);
    expect(count.body.total).toBe(0);
    expect((await call(asBob, 'GET', `Coverage/${coverage}`)).status).toBe(404);
    // A patient cannot put a resource into another patient's chart.
    const intoBob = await call(asAlice, 'POST', 'Coverage', {
      resourceType: 'Coverage',
      status: 'active',
      beneficiary: { reference: `Patient/${ids.bob}` },
      subscriber: { reference: `Patient/${ids.alice}` },
      payor: [{ display: 'Acme Health' }],
    });
    expect(intoBob.status).toBe(403);
  });

  it('"not there" and "not yours" are both 404 for a caller without access to the patient', async () => {
    const outsider = await t.bearer({
      kind: 'system',
      scope: 'system/*.rs',
      address: privateKeyToAccount(generatePrivateKey()).address.toLowerCase(),
      internal: false,
    });
    const existing = await call(outsider, 'GET', `Patient/${ids.alice}`);
    const missing = await call(outsider, 'GET', 'Patient/no-such-patient');
    expect(existing.status).toBe(404);
    expect(missing.status).toBe(404);
    expect(existing.body).toEqual(missing.body);
  });

  it('_summary=count and total count only what the caller may see', async () => {
    await t.create(observation(ids.alice, 70, '9279-1'), ehr);
    await t.create(observation(ids.bob, 71, '9279-1'), ehr);
    await t.create(observation(ids.bob, 72, '9279-1'), ehr);
    const count = await call(asAlice, 'GET', 'Observation?code=http://loinc.org|9279-1&_summary=count');
    expect(count.status).toBe(200);
    expect(count.body.total).toBe(1);
    const search = await call(asAlice, 'GET', 'Observation?code=http://loinc.org|9279-1');
    expect(search.body.total).toBe(1);
    expect(entries(search.body)).toHaveLength(1);
  });

  it("a search across patients, a batch and a create appear in every touched patient's $access-report", async () => {
    const aliceObs = await t.create(observation(ids.alice, 80, '2708-6'), ehr);
    const bobObs = await t.create(observation(ids.bob, 81, '2708-6'), ehr);
    const search = await call(ehr, 'GET', 'Observation?code=http://loinc.org|2708-6');
    expect(entries(search.body)).toHaveLength(2);
    const batch = await call(ehr, 'POST', '', {
      resourceType: 'Bundle',
      type: 'batch',
      entry: [
        { request: { method: 'GET', url: `Observation/${aliceObs}` } },
        { request: { method: 'GET', url: `Observation/${bobObs}` } },
      ],
    });
    expect(batch.status).toBe(200);
    await t.node.audit.flush();
    const asBobReport = await t.bearer({ kind: 'patient', scope: 'patient/*.rs', patient: ids.bob });
    const alices = await reportOf(ids.alice, asAlice);
    const bobs = await reportOf(ids.bob, asBobReport);
    // The search event names both results; each patient finds it.
    expect(alices).toContain(`Observation/${aliceObs}`);
    expect(bobs).toContain(`Observation/${bobObs}`);
    expect(alices).toContain(Buffer.from('code=http%3A%2F%2Floinc.org%7C2708-6').toString('base64'));
    expect(bobs).toContain(Buffer.from('code=http%3A%2F%2Floinc.org%7C2708-6').toString('base64'));
    // The batch: one event naming both entries, in both reports.
    const batchEvents = (report: string) =>
      (JSON.parse(report) as Bundle).entry?.filter(
        (e) => (e.resource as { subtype?: { code: string }[] })?.subtype?.[0]?.code === 'batch',
      ) ?? [];
    expect(batchEvents(alices).length).toBeGreaterThan(0);
    expect(batchEvents(bobs).length).toBeGreaterThan(0);
    // A create names the new id, in the new resource's patient's report.
    expect(alices).toContain(`Observation/${aliceObs}/_history/1`);
  });
});
