/**
 * Issue 20 (search): `_summary` / `_elements` on read and search give SUBSETTED resources (and
 * the audit still names everything the whole resource concerns); `Prefer: handling=lenient`
 * drops what cannot be answered and says so, strict (the default) refuses it; the modifiers
 * supported (supportedModifiers.ts) give right answers and the others are refused.
 */
import type { Bundle, OperationOutcome, Resource } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { searchParamsOf } from './capabilityStatement.ts';
import { SUBSETTED } from './subsetResource.ts';
import { startTestNode, type TestNode } from './testing/startTestNode.ts';

/** A read resource, search Bundle or OperationOutcome, as JSON. */
type Served = Resource & Pick<Bundle, 'entry' | 'link' | 'total'> & Pick<OperationOutcome, 'issue'>;

describe('_summary, _elements, Prefer: handling and modifiers', () => {
  let t: TestNode;
  let ehr: string;
  let patient: string;
  let other: string;
  let withCode: string;
  let withoutValue: string;

  const get = async (path: string, headers: Record<string, string> = {}) => {
    const r = await fetch(`${t.fhirUrl}/${path}`, { headers: { authorization: ehr, ...headers } });
    return { status: r.status, body: (await r.json()) as Served };
  };
  const matches = (bundle: Pick<Bundle, 'entry'>) =>
    (bundle.entry ?? []).filter((e) => e.search?.mode === 'match').map((e) => e.resource as Resource);
  const self = (bundle: Pick<Bundle, 'link'>) => bundle.link?.find((l) => l.relation === 'self')?.url ?? '';
  const subsetted = (r: Resource | undefined) =>
    r?.meta?.tag?.some((tag) => tag.system === SUBSETTED.system && tag.code === 'SUBSETTED') ?? false;

  beforeAll(async () => {
    t = await startTestNode();
    ehr = await t.bearer({ kind: 'system', scope: 'system/*.cruds' });
    patient = await t.create(
      {
        resourceType: 'Patient',
        text: { status: 'generated', div: '<div xmlns="http://www.w3.org/1999/xhtml">Ann Summary</div>' },
        name: [{ family: 'Summary', given: ['Ann'] }],
        gender: 'female',
        maritalStatus: { text: 'married' },
        contact: [{ name: { family: 'Contact' } }],
      },
      ehr,
    );
    other = await t.create({ resourceType: 'Patient', name: [{ family: 'Otherly' }] }, ehr);
    withCode = await t.create(
      {
        resourceType: 'Observation',
        status: 'final',
        code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] },
        subject: { reference: `Patient/${patient}` },
        valueQuantity: { value: 72, unit: '/min' },
        note: [{ text: 'resting' }],
      },
      ehr,
    );
    withoutValue = await t.create(
      {
        resourceType: 'Observation',
        status: 'preliminary',
        code: { coding: [{ system: 'http://loinc.org', code: '9279-1' }] },
        subject: { reference: `Patient/${patient}` },
      },
      ehr,
    );
  });
  afterAll(async () => t?.stop());

  it('a read with _summary or _elements is subsetted and tagged; the stored resource is whole', async () => {
    const summary = (await get(`Patient/${patient}?_summary=true`)).body;
    expect(summary.id).toBe(patient);
    expect(summary).toMatchObject({ name: [{ family: 'Summary' }], gender: 'female' });
    expect(summary).not.toHaveProperty('contact'); // not a summary element
    expect(summary).not.toHaveProperty('maritalStatus');
    expect(summary).not.toHaveProperty('text');
    expect(subsetted(summary)).toBe(true);
    expect(summary.meta?.versionId).toBe('1');

    const text = (await get(`Patient/${patient}?_summary=text`)).body;
    expect(Object.keys(text).sort()).toEqual(['id', 'meta', 'resourceType', 'text']);
    const data = (await get(`Patient/${patient}?_summary=data`)).body;
    expect(data).not.toHaveProperty('text');
    expect(data).toHaveProperty('contact');
    expect(subsetted(data)).toBe(true);

    const elements = (await get(`Patient/${patient}?_elements=gender`)).body;
    expect(Object.keys(elements).sort()).toEqual(['gender', 'id', 'meta', 'resourceType']);
    // Mandatory elements stay (Observation.status and code), a choice is named by its base.
    const obs = (await get(`Observation/${withCode}?_elements=value`)).body;
    expect(Object.keys(obs).sort()).toEqual([
      'code',
      'id',
      'meta',
      'resourceType',
      'status',
      'valueQuantity',
    ]);
    expect((await get(`Observation/${withCode}/_history/1?_elements=valueQuantity`)).body).toHaveProperty(
      'valueQuantity',
    );

    const whole = (await get(`Patient/${patient}`)).body;
    expect(whole).toHaveProperty('contact');
    expect(subsetted(whole)).toBe(false);
    const full = (await get(`Patient/${patient}?_summary=false`)).body;
    expect(subsetted(full)).toBe(false);
  });

  it('_summary=true applies isSummary at every level: a DocumentReference summary leaves the document out', async () => {
    const id = await t.create(
      {
        resourceType: 'DocumentReference',
        status: 'current',
        subject: { reference: `Patient/${patient}` },
        content: [{ attachment: { contentType: 'text/plain', data: 'aGVsbG8=', title: 'note' } }],
      },
      ehr,
    );
    const summary = (await get(`DocumentReference/${id}?_summary=true`)).body as unknown as {
      status: string;
      content: { attachment: Record<string, unknown> }[];
    };
    expect(summary.status).toBe('current');
    expect(summary.content[0]?.attachment).toEqual({ contentType: 'text/plain', title: 'note' });
    const whole = (await get(`DocumentReference/${id}`)).body as unknown as typeof summary;
    expect(whole.content[0]?.attachment.data).toBe('aGVsbG8=');
  });

  it('a bad _summary or an unknown _elements name is a 400 naming it', async () => {
    const bad = await get(`Patient/${patient}?_summary=yes`);
    expect(bad.status).toBe(400);
    expect(bad.body.issue?.[0]?.expression).toEqual(['_summary']);
    const unknown = await get(`Patient/${patient}?_elements=nmae`);
    expect(unknown.status).toBe(400);
    expect(unknown.body.issue?.[0]?.expression).toEqual(['_elements']);
    expect((await get('Patient?_elements=nmae')).status).toBe(400);
    expect((await get('Patient?_summary=maybe')).status).toBe(400);
  });

  it('a search with _elements subsets every match and keeps _elements (not _fields) in its links', async () => {
    const r = await get(`Observation?subject=Patient/${patient}&_elements=status&_count=1`);
    expect(r.status).toBe(200);
    const found = matches(r.body);
    expect(found).toHaveLength(1);
    for (const resource of found) {
      expect(Object.keys(resource).sort()).toEqual(['code', 'id', 'meta', 'resourceType', 'status']);
      expect(subsetted(resource)).toBe(true);
    }
    expect(self(r.body)).toContain('_elements=status');
    expect(self(r.body)).not.toContain('_fields');
    const next = r.body.link?.find((l) => l.relation === 'next')?.url ?? '';
    expect(next).toContain('_elements=status');
    const paged = (await fetch(next, { headers: { authorization: ehr } }).then((x) => x.json())) as Bundle;
    expect(matches(paged).every((m) => subsetted(m) && !('subject' in m))).toBe(true);

    const summary = await get(`Patient?family=Summary&_summary=true`);
    expect(self(summary.body)).toContain('_summary=true');
    expect(matches(summary.body)[0]).not.toHaveProperty('contact');
    const count = await get(`Observation?subject=Patient/${patient}&_summary=count`);
    expect(count.body.total).toBe(2);
    expect(count.body.entry).toBeUndefined();
    const form = await fetch(`${t.fhirUrl}/Observation/_search`, {
      method: 'POST',
      headers: { authorization: ehr, 'content-type': 'application/x-www-form-urlencoded' },
      body: `subject=Patient/${patient}&_elements=status`,
    }).then((x) => x.json() as Promise<Bundle>);
    expect(matches(form).every((m) => subsetted(m) && !('subject' in m))).toBe(true);
  });

  it("batch GET entries are subsetted as each entry asks; a bad one is that entry's 400", async () => {
    const r = await fetch(t.fhirUrl, {
      method: 'POST',
      headers: { authorization: ehr, 'content-type': 'application/fhir+json' },
      body: JSON.stringify({
        resourceType: 'Bundle',
        type: 'batch',
        entry: [
          { request: { method: 'GET', url: `Patient/${patient}?_elements=gender` } },
          { request: { method: 'GET', url: `Observation?subject=Patient/${patient}&_elements=status` } },
          { request: { method: 'GET', url: `Patient/${patient}?_elements=nmae` } },
          { request: { method: 'GET', url: `Patient/${patient}` } },
        ],
      }),
    });
    expect(r.status).toBe(200);
    const body = (await r.json()) as Bundle;
    const [read, search, bad, whole] = body.entry ?? [];
    expect(Object.keys(read?.resource ?? {}).sort()).toEqual(['gender', 'id', 'meta', 'resourceType']);
    expect(subsetted(read?.resource as Resource)).toBe(true);
    const found = matches(search?.resource as Bundle);
    expect(found.length).toBeGreaterThan(0);
    expect(found.every((m) => subsetted(m) && !('subject' in m))).toBe(true);
    expect(bad?.response?.status).toBe('400');
    expect(bad?.response?.outcome?.issue?.[0]?.expression).toEqual(['_elements']);
    expect(whole?.resource).toHaveProperty('name');
    expect(subsetted(whole?.resource as Resource)).toBe(false);
  });

  it('subsetting happens after the audit: the event of an _elements search still names the patient', async () => {
    const r = await get(`Observation?code=http://loinc.org|9279-1&_elements=status`);
    expect(matches(r.body).map((m) => m.id)).toEqual([withoutValue]);
    await t.node.audit.flush();
    const asPatient = await t.bearer({ kind: 'patient', scope: 'patient/*.rs', patient });
    const report = await fetch(`${t.fhirUrl}/Patient/${patient}/$access-report`, {
      headers: { authorization: asPatient },
    });
    expect(report.status).toBe(200);
    const text = await report.text();
    expect(text).toContain(`Observation/${withoutValue}/_history/1`);
    expect(text).toContain(Buffer.from('_elements=status').toString('base64').slice(0, 12));
  });

  it('strict (the default) refuses unsupported parameters; lenient drops them, says so and leaves them out of self', async () => {
    for (const headers of [{}, { prefer: 'handling=strict' }]) {
      const r = await get(`Observation?subject=Patient/${patient}&foo=1`, headers);
      expect(r.status).toBe(400);
      expect(r.body.issue?.[0]?.expression).toEqual(['foo']);
      const sort = await get(`Observation?subject=Patient/${patient}&_sort=bogus`, headers);
      expect(sort.status).toBe(400);
      expect(sort.body.issue?.[0]?.expression).toEqual(['_sort']);
    }
    const lenient = await get(
      `Observation?subject=Patient/${patient}&foo=1&code:in=http://example.org/vs&_sort=bogus`,
      {
        prefer: 'return=representation, handling=lenient',
      },
    );
    expect(lenient.status).toBe(200);
    expect(lenient.body.total).toBe(2);
    expect(matches(lenient.body)).toHaveLength(2);
    const outcomes = (lenient.body.entry ?? []).filter((e) => e.search?.mode === 'outcome');
    expect(outcomes).toHaveLength(1);
    const issues = (outcomes[0]?.resource as OperationOutcome | undefined)?.issue ?? [];
    expect(issues.flatMap((i) => i.expression ?? []).sort()).toEqual(['_sort', 'code', 'foo']);
    expect(issues.every((i) => i.severity === 'warning' && i.details?.text?.includes('ignored'))).toBe(true);
    expect(self(lenient.body)).not.toMatch(/foo|code|bogus/);
    expect(self(lenient.body)).toContain(`subject=Patient%2F${patient}`);
    // What is not a dropped parameter keeps its status.
    expect((await get('Foo?x=1', { prefer: 'handling=lenient' })).status).toBe(404);
    expect((await get('Observation?_count=abc', { prefer: 'handling=lenient' })).status).toBe(400);
    // A modifier Medplum's parser would drop is dropped whole, and said so, not searched without it.
    const dropped = await get(`Observation?subject=Patient/${patient}&date:above=2030-01-01`, {
      prefer: 'handling=lenient',
    });
    expect(matches(dropped.body)).toHaveLength(2);
    expect(self(dropped.body)).not.toContain('date');
    const said = dropped.body.entry?.find((e) => e.search?.mode === 'outcome')?.resource as OperationOutcome;
    expect(said.issue?.[0]?.expression).toEqual(['date']);
    // Lenient on a read ignores an unknown _elements name.
    const read = await get(`Patient/${patient}?_elements=gender,nmae`, { prefer: 'handling=lenient' });
    expect(read.status).toBe(200);
    expect(read.body).toHaveProperty('gender');
  });

  it('the CapabilityStatement lists per type what search answers (capabilityStatement.test.ts checks every type)', async () => {
    const cs = (await get('metadata')).body as unknown as {
      rest: { resource: { type: string; searchParam: unknown[] }[]; searchParam: { name: string }[] }[];
    };
    const observation = cs.rest[0]?.resource.find((r) => r.type === 'Observation');
    expect(observation?.searchParam).toEqual(searchParamsOf('Observation'));
    expect(cs.rest[0]?.searchParam.map((p) => p.name)).toEqual(
      expect.arrayContaining(['_summary', '_elements']),
    );
  });

  it(':missing, :not, :exact and :contains answer right; :in, :above, number parameters and ap on dates are refused', async () => {
    const ids = async (path: string) => {
      const r = await get(path);
      expect(r.status, path).toBe(200);
      return matches(r.body)
        .map((m) => m.id)
        .sort();
    };
    const mine = `subject=Patient/${patient}`;
    expect(await ids(`Observation?${mine}&value-quantity:missing=true`)).toEqual([withoutValue]);
    expect(await ids(`Observation?${mine}&value-quantity:missing=false`)).toEqual([withCode]);
    expect(await ids(`Observation?${mine}&code:not=http://loinc.org|8867-4`)).toEqual([withoutValue]);
    expect(await ids(`Observation?${mine}&status:not=final`)).toEqual([withoutValue]);
    expect(await ids('Patient?family:exact=Summary')).toEqual([patient]);
    expect(await ids('Patient?family:exact=summary')).toEqual([]);
    expect(await ids('Patient?family:contains=ther')).toEqual([other]);
    expect(await ids('Patient?name:contains=umma')).toEqual([patient]);
    expect(await ids('Patient?gender:missing=true')).toEqual([other]);
    // A reference's type modifier is R4's `subject=Patient/id` (Medplum's parser would drop the type).
    expect(await ids(`Observation?subject:Patient=${patient}`)).toEqual([withCode, withoutValue].sort());
    for (const path of [
      'Observation?date:above=2024-01-01',
      'Observation?value-quantity:exact=72',
      'Observation?code:in=http://loinc.org/vs',
      'Observation?code:above=http://loinc.org|8867-4',
      'Observation?subject:identifier=http://x|1',
      'Patient?family:text=summ',
      'RiskAssessment?probability=0.5',
      'Observation?date=ap2024-01-01',
    ]) {
      const r = await get(path);
      expect(r.status, path).toBe(400);
      expect(r.body.issue?.[0]?.code, path).toBe('not-supported');
    }
    const missing = await get('Observation?code:missing=maybe');
    expect(missing.status).toBe(400);
    expect(missing.body.issue?.[0]?.expression).toEqual(['code']);
  });
});
