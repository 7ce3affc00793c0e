/**
 * Issue 20's "silent empty results" and "smaller" findings: a search the server cannot answer is
 * refused (never a 200 with total 0), a PUT that creates is 201 with Location, the
 * CapabilityStatement is read-only, a request for another FHIR version is 406, and a form body is
 * 415 except on POST _search.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalJson } from './testing/canonicalFhir.ts';
import { startTestNode, type TestNode } from './testing/startTestNode.ts';

describe('FHIR conformance at the edges', () => {
  let t: TestNode;
  let ehr: string;
  let patient: string;

  const call = async (
    method: string,
    path: string,
    init: { body?: string; type?: string; accept?: string } = {},
  ) => {
    const r = await fetch(`${t.fhirUrl}/${path}`, {
      method,
      headers: {
        authorization: ehr,
        ...(init.body === undefined ? {} : { 'content-type': init.type ?? 'application/fhir+json' }),
        ...(init.accept ? { accept: init.accept } : {}),
      },
      ...(init.body === undefined ? {} : { body: init.body }),
    });
    const text = await r.text();
    return {
      status: r.status,
      location: r.headers.get('location'),
      body: (text ? JSON.parse(text) : {}) as {
        resourceType?: string;
        total?: number;
        issue?: { details?: { text?: string } }[];
      },
    };
  };

  beforeAll(async () => {
    t = await startTestNode();
    ehr = await t.bearer({ kind: 'system', scope: 'system/*.cruds' });
    patient = await t.create({ resourceType: 'Patient', name: [{ family: 'Edge' }] }, ehr);
    await t.create(
      {
        resourceType: 'Observation',
        status: 'final',
        code: { text: 'x' },
        subject: { reference: `Patient/${patient}` },
      },
      ehr,
    );
  });
  afterAll(async () => t?.stop());

  it('a search it cannot answer is refused with an OperationOutcome naming why, never an empty 200', async () => {
    expect((await call('GET', 'Foo')).status).toBe(404);
    for (const query of [
      'Observation?foo=1',
      'Observation?subject.name.family=Edge', // one level of chaining is answered (chainedSearch.test.ts)
      'Observation?subject.unknown=Edge',
      '_has:Observation:patient:_has:Encounter:patient:status=finished',
      '_has:Observation:patient:unknown=1',
      'Observation?code:in=http://example.org/ValueSet/pulse',
      'Observation?_filter=status eq final',
      'Observation?code-value-quantity=8480-6$gt100',
      'Observation?_count=abc',
    ]) {
      const path = query.startsWith('_has') ? `Patient?${query}` : query;
      const r = await call('GET', path);
      expect(r.status, path).toBe(400);
      expect(r.body.resourceType, path).toBe('OperationOutcome');
      expect(r.body.issue?.[0]?.details?.text, path).toBeTruthy();
    }
    const fine = await call('GET', `Observation?subject=Patient/${patient}&_count=10`);
    expect(fine.status).toBe(200);
    expect(fine.body.total).toBe(1);
  });

  it('a PUT that creates is 201 with Location; one that updates is 200', async () => {
    const id = randomUUID();
    const body = JSON.stringify({ resourceType: 'Patient', id, name: [{ family: 'Put' }] });
    const created = await call('PUT', `Patient/${id}`, { body });
    expect(created.status).toBe(201);
    expect(created.location).toBe(`${t.fhirUrl}/Patient/${id}/_history/1`);
    expect((await call('PUT', `Patient/${id}`, { body })).status).toBe(200);
    // What a client writes reads back exactly: no identifier is added to a Patient.
    const read = (await call('GET', `Patient/${id}`)).body as Record<string, unknown>;
    expect(canonicalJson(read, { exact: true })).toBe(canonicalJson(JSON.parse(body), { exact: true }));
    const posted = await call('POST', 'Patient', {
      body: JSON.stringify({ resourceType: 'Patient', active: true }),
    });
    expect((posted.body as { identifier?: unknown }).identifier).toBeUndefined();
  });

  it('the CapabilityStatement is read-only, R4 only; a form body is not FHIR except for _search', async () => {
    for (const method of ['DELETE', 'PUT', 'POST'])
      expect((await call(method, 'metadata', method === 'DELETE' ? {} : { body: '{}' })).status, method).toBe(
        405,
      );
    expect((await call('GET', 'metadata', { accept: 'application/fhir+json; fhirVersion=3.0' })).status).toBe(
      406,
    );
    expect(
      (await call('GET', `Patient/${patient}`, { accept: 'application/fhir+json; fhirVersion=3.0' })).status,
    ).toBe(406);
    expect((await call('GET', 'metadata', { accept: 'application/fhir+json; fhirVersion=4.0' })).status).toBe(
      200,
    );
    const form = { type: 'application/x-www-form-urlencoded', body: 'resourceType=Patient' };
    expect((await call('POST', 'Patient', form)).status).toBe(415);
    const search = await call('POST', 'Observation/_search', {
      type: 'application/x-www-form-urlencoded',
      body: `subject=Patient/${patient}`,
    });
    expect(search.status).toBe(200);
    expect(search.body.total).toBe(1);
  });

  it('history answers _since and _at at every level, and refuses what it does not answer', async () => {
    const created = await call('POST', 'Patient', {
      body: JSON.stringify({ resourceType: 'Patient', name: [{ family: 'Window' }] }),
    });
    type Stored = { id: string; meta: { lastUpdated: string } };
    const id = (created.body as unknown as Stored).id;
    const stamps = [(created.body as unknown as Stored).meta.lastUpdated];
    for (const given of ['Two', 'Three']) {
      await new Promise((r) => setTimeout(r, 30));
      const updated = await call('PUT', `Patient/${id}`, {
        body: JSON.stringify({ resourceType: 'Patient', id, name: [{ family: 'Window', given: [given] }] }),
      });
      stamps.push((updated.body as unknown as Stored).meta.lastUpdated);
    }
    const between = (a: string, b: string) => new Date((Date.parse(a) + Date.parse(b)) / 2).toISOString();
    const versions = async (path: string) => {
      const r = await call('GET', path);
      expect(r.status, path).toBe(200);
      const body = r.body as unknown as { entry?: { fullUrl?: string; response?: { etag?: string } }[] };
      return (body.entry ?? [])
        .filter((e) => e.fullUrl?.endsWith(`/Patient/${id}`))
        .map((e) => e.response?.etag);
    };
    const t1 = between(stamps[0] as string, stamps[1] as string);
    const year = (stamps[0] as string).slice(0, 4);
    for (const base of [`Patient/${id}/_history`, 'Patient/_history', '_history']) {
      expect(await versions(`${base}?_since=${encodeURIComponent(t1)}`), base).toEqual(['W/"3"', 'W/"2"']);
      // Current at that instant: version 1 only.
      expect(await versions(`${base}?_at=${encodeURIComponent(t1)}`), base).toEqual(['W/"1"']);
      // Current at some point this year: all three.
      expect(await versions(`${base}?_at=${year}`), base).toEqual(['W/"3"', 'W/"2"', 'W/"1"']);
    }
    for (const path of [
      `Patient/${id}/_history?_at=soon`,
      'Patient/_history?_since=2026',
      'Patient/_history?_list=x',
      `Patient/${id}/_history?_sort=x`,
      `Patient/${id}/$everything?_type=Foo`,
      `Patient/${id}/$everything?_count=0`,
      `Patient/${id}/$everything?start=soon`,
      `Patient/${id}/$everything?_since=2026`,
      `Patient/${id}/$everything?_elements=id`,
    ]) {
      const r = await call('GET', path);
      expect(r.status, path).toBe(400);
      expect(r.body.resourceType, path).toBe('OperationOutcome');
    }
  });

  it('$everything answers start, end, _since and _type, and pages with _count through next', async () => {
    const who = await t.create({ resourceType: 'Patient', name: [{ family: 'Everything' }] }, ehr);
    const subject = { reference: `Patient/${who}` };
    const obs = (effectiveDateTime?: string) => ({
      resourceType: 'Observation',
      status: 'final',
      code: { text: 'weight' },
      subject,
      ...(effectiveDateTime ? { effectiveDateTime } : {}),
    });
    const old = await t.create(obs('2020-05-01'), ehr);
    const undated = await t.create(obs(), ehr);
    const visit = await t.create(
      {
        resourceType: 'Encounter',
        status: 'finished',
        class: { code: 'AMB' },
        subject,
        period: { start: '2021-03-01T10:00:00Z', end: '2021-03-01T11:00:00Z' },
      },
      ehr,
    );
    const written = new Date().toISOString();
    const problem = await t.create(
      { resourceType: 'Condition', subject, code: { text: 'asthma' }, onsetDateTime: '2019' },
      ehr,
    );
    const ids = async (query: string) => {
      const r = await call('GET', `Patient/${who}/$everything?remote=false${query}`);
      expect(r.status, query).toBe(200);
      const body = r.body as { entry?: { resource: { resourceType: string; id: string } }[] };
      return (body.entry ?? []).map((e) => `${e.resource.resourceType}/${e.resource.id}`).sort();
    };
    const all = [
      `Condition/${problem}`,
      `Encounter/${visit}`,
      `Observation/${old}`,
      `Observation/${undated}`,
      `Patient/${who}`,
    ].sort();
    expect(await ids('')).toEqual(all);
    expect(await ids('&_type=Observation')).toEqual([`Observation/${old}`, `Observation/${undated}`].sort());
    expect(await ids('&_type=Patient,Encounter')).toEqual([`Encounter/${visit}`, `Patient/${who}`].sort());
    // Care dates: the 2020 observation is out of 2021; the undated one and the types clinical-date
    // does not cover (Patient, Condition) stay.
    expect(await ids('&start=2021&end=2021')).toEqual(all.filter((x) => x !== `Observation/${old}`));
    expect(await ids('&end=2020-12-31')).toEqual(all.filter((x) => x !== `Encounter/${visit}`));
    expect(await ids(`&_since=${encodeURIComponent(written)}`)).toEqual([`Condition/${problem}`]);
    // Paging: next links to the end, every resource once, total the whole count.
    const seen: string[] = [];
    let url: string | undefined = `${t.fhirUrl}/Patient/${who}/$everything?remote=false&_count=2`;
    let pages = 0;
    while (url) {
      const r = await fetch(url, { headers: { authorization: ehr } });
      const page = (await r.json()) as {
        total: number;
        link: { relation: string; url: string }[];
        entry?: { resource: { resourceType: string; id: string } }[];
      };
      expect(page.total).toBe(all.length);
      expect((page.entry ?? []).length).toBeLessThanOrEqual(2);
      seen.push(...(page.entry ?? []).map((e) => `${e.resource.resourceType}/${e.resource.id}`));
      url = page.link.find((l) => l.relation === 'next')?.url;
      pages++;
    }
    expect(pages).toBe(3);
    expect(seen.sort()).toEqual(all);
  });

  it('type and system history page with next links until every version was seen once, deletions included', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++)
      ids.push(
        await t.create(
          {
            resourceType: 'Flag',
            status: 'active',
            code: { text: `flag ${i}` },
            subject: { reference: `Patient/${patient}` },
          },
          ehr,
        ),
      );
    expect((await call('DELETE', `Flag/${ids[0]}`)).status).toBeLessThan(300);
    const seen: string[] = [];
    let url: string | undefined = `${t.fhirUrl}/Flag/_history?_count=2`;
    let pages = 0;
    while (url) {
      const page = (await (await fetch(url, { headers: { authorization: ehr } })).json()) as {
        total?: number;
        entry?: { fullUrl?: string; request?: { method?: string }; response?: { etag?: string } }[];
        link?: { relation: string; url: string }[];
      };
      pages++;
      expect(page.total).toBeUndefined();
      expect((page.entry ?? []).length).toBeLessThanOrEqual(2);
      for (const e of page.entry ?? [])
        seen.push(`${e.fullUrl?.split('/').pop()}@${e.response?.etag}:${e.request?.method}`);
      url = page.link?.find((l) => l.relation === 'next')?.url;
    }
    expect(seen, `pages ${pages}`).toHaveLength(6);
    expect(pages).toBeGreaterThanOrEqual(3);
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen).toHaveLength(6);
    expect(seen[0]).toBe(`${ids[0]}@W/"2":DELETE`);
    expect((await call('GET', 'Flag/_history?_count=abc')).status).toBe(400);
    expect((await call('GET', '_history?_since=yesterday')).status).toBe(400);
  });
});
