/**
 * Complete accounting of disclosures (issue 18): for every kind of access that serves, counts,
 * includes or writes a patient's record, that patient's `$access-report` holds the request's event,
 * naming what was served, and the report — anchored — is accepted by `medledger verify --bundle`
 * against the chain, with no database.
 */
import type { Bundle } from '@medplum/fhirtypes';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyBundleWithCli } from '../verify/testing/verifyBundleWithCli.ts';
import { startTestNode, type TestNode } from './testing/startTestNode.ts';

interface ReportEvent {
  subtype: { code: string }[];
  outcome: string;
  entity: { what?: { reference?: string }; role?: { code?: string }; query?: string }[];
}

describe("every access kind is in the patient's $access-report, with proofs the CLI accepts", () => {
  let t: TestNode;
  let ehr: string;
  const alice = privateKeyToAccount(generatePrivateKey());
  const bob = privateKeyToAccount(generatePrivateKey());
  const ids = { alice: '', bob: '', obs: '', bobObs: '' };

  const call = async (token: string, method: string, path: string, body?: unknown, headers = {}) => {
    const r = await fetch(`${t.fhirUrl}/${path}`, {
      method,
      headers: {
        authorization: token,
        ...(body === undefined ? {} : { 'content-type': 'application/fhir+json' }),
        ...headers,
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await r.text();
    return { status: r.status, headers: r.headers, body: (text ? JSON.parse(text) : {}) as Bundle };
  };
  const observation = (patientId: string, value: number) => ({
    resourceType: 'Observation',
    status: 'final',
    code: { coding: [{ system: 'http://loinc.org', code: '8480-6' }] },
    subject: { reference: `Patient/${patientId}` },
    valueQuantity: { value, unit: 'mm[Hg]', system: 'http://unitsofmeasure.org', code: 'mm[Hg]' },
  });

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
    ids.obs = await t.create(observation(ids.alice, 120), ehr);
    ids.bobObs = await t.create(observation(ids.bob, 121), ehr);
  });
  afterAll(async () => t?.stop());

  it('read, vread, history, search, includes, count, $everything, writes, batch and $export all appear', async () => {
    const obs = `Observation/${ids.obs}`;
    const kinds: [string, () => Promise<{ status: number }>][] = [
      ['read', () => call(ehr, 'GET', obs)],
      ['vread', () => call(ehr, 'GET', `${obs}/_history/1`)],
      ['history-instance', () => call(ehr, 'GET', `${obs}/_history`)],
      ['history-type', () => call(ehr, 'GET', 'Observation/_history')],
      ['history-system', () => call(ehr, 'GET', '_history')],
      ['search-type', () => call(ehr, 'GET', 'Observation?code=http://loinc.org|8480-6')],
      ['search-type', () => call(ehr, 'GET', 'Observation?code=http://loinc.org|8480-6&_summary=count')],
      ['search-type', () => call(ehr, 'GET', `Patient?_id=${ids.alice}&_revinclude=Observation:subject`)],
      ['search-type', () => call(ehr, 'GET', `Observation?_id=${ids.obs}&_include=Observation:subject`)],
      ['operation', () => call(ehr, 'GET', `Patient/${ids.alice}/$everything`)],
      ['update', () => call(ehr, 'PUT', obs, { ...observation(ids.alice, 122), id: ids.obs })],
      [
        'batch',
        () =>
          call(ehr, 'POST', '', {
            resourceType: 'Bundle',
            type: 'batch',
            entry: [
              { request: { method: 'GET', url: obs } },
              { request: { method: 'GET', url: `Observation/${ids.bobObs}` } },
            ],
          }),
      ],
    ];
    for (const [kind, run] of kinds) expect((await run()).status, kind).toBeLessThan(300);
    const created = await call(ehr, 'POST', 'Observation', observation(ids.alice, 123));
    expect(created.status).toBe(201);
    const createdId = (created.body as unknown as { id: string }).id;
    expect((await call(ehr, 'DELETE', `Observation/${createdId}`)).status).toBeLessThan(300);

    // A system-level $export: one event per patient whose records left.
    const started = await call(ehr, 'GET', '$export?_type=Observation', undefined, {
      accept: 'application/fhir+json',
      prefer: 'respond-async',
    });
    expect(started.status).toBe(202);
    const status = started.headers.get('content-location') as string;
    for (let done = false, deadline = Date.now() + 120_000; !done; ) {
      expect(Date.now()).toBeLessThan(deadline);
      const poll = await fetch(status, { headers: { authorization: ehr } });
      done = poll.status === 200;
      if (!done) await new Promise((r) => setTimeout(r, 250));
    }

    // Anchor everything so every entry carries a proof on chain: cut what is pending, then wait
    // until no chain write is in flight (a background cut may have taken some leaves first) and
    // the indexer has the last confirmed block.
    await t.node.audit.flush();
    await t.node.recordBatcher.flush();
    await t.node.auditBatcher.flush();
    t.node.outbox.notify();
    for (const deadline = Date.now() + 90_000; ; ) {
      const [open] = await t.node.db.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM chain_outbox WHERE status IN ('pending', 'signed')",
      );
      if (open?.n === 0) break;
      expect(Date.now(), 'chain writes still in flight').toBeLessThan(deadline);
      await new Promise((r) => setTimeout(r, 100));
    }
    const [failed] = await t.node.db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM chain_outbox WHERE status = 'failed'",
    );
    expect(failed?.n).toBe(0);
    const [last] = await t.node.db.query<{ block: string | null }>(
      "SELECT max(block_number)::text AS block FROM chain_outbox WHERE status = 'confirmed'",
    );
    if (last?.block) await t.node.indexer.waitForBlock(BigInt(last.block));

    const asAlice = await t.bearer({ kind: 'patient', scope: 'patient/*.rs', patient: ids.alice });
    const report = await call(asAlice, 'GET', `Patient/${ids.alice}/$access-report`);
    expect(report.status).toBe(200);
    const events = (report.body.entry ?? []).map((e) => e.resource as unknown as ReportEvent);
    const names = (e: ReportEvent) => e.entity.map((x) => x.what?.reference ?? '');
    const about = (e: ReportEvent, ref: string) => names(e).some((n) => n.startsWith(ref));
    const ofKind = (code: string) => events.filter((e) => e.subtype[0]?.code === code);
    for (const kind of [
      'read',
      'vread',
      'history-instance',
      'history-type',
      'history-system',
      'update',
      'batch',
    ])
      expect(
        ofKind(kind).some((e) => about(e, obs)),
        `${kind} names ${obs}`,
      ).toBe(true);
    // Searches name their results (and includes); the count names what it counted.
    const searches = ofKind('search-type');
    expect(searches.filter((e) => about(e, obs)).length).toBeGreaterThanOrEqual(3);
    expect(ofKind('operation').some((e) => about(e, obs))).toBe(true); // $everything
    expect(ofKind('create').some((e) => about(e, `Observation/${createdId}/_history/1`))).toBe(true);
    expect(ofKind('delete').some((e) => about(e, `Observation/${createdId}/_history/2`))).toBe(true);
    expect(events.some((e) => names(e).some((n) => n.startsWith('urn:medledger:bulk-export:')))).toBe(true);
    // Bob's data in the same batch and search is in Bob's report, not in Alice's entries' names.
    const asBob = await t.bearer({ kind: 'patient', scope: 'patient/*.rs', patient: ids.bob });
    const bobs = await call(asBob, 'GET', `Patient/${ids.bob}/$access-report`);
    const bobEvents = (bobs.body.entry ?? []).map((e) => e.resource as unknown as ReportEvent);
    expect(
      bobEvents.some((e) => e.subtype[0]?.code === 'batch' && about(e, `Observation/${ids.bobObs}`)),
    ).toBe(true);

    // The saved report, checked by the CLI against the chain with no database.
    const anchoredOnly = {
      ...report.body,
      entry: (report.body.entry ?? []).filter((e) =>
        JSON.stringify(e.extension ?? []).includes('"valueCode":"anchored"'),
      ),
    };
    expect(anchoredOnly.entry.length).toBeGreaterThan(10);
    expect(await verifyBundleWithCli(anchoredOnly, t.node.chain.rpcUrl)).toMatchObject({ ok: true });
  }, 240_000);
});
