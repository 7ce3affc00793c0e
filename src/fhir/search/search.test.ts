import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestNode, type TestNode } from '../testing/startTestNode.ts';

interface SearchBundle {
  total: number;
  entry?: {
    resource: { resourceType: string; id: string; [k: string]: unknown };
    search: { mode: string };
  }[];
  link: { relation: string; url: string }[];
}

describe('search over the blind index, matched on decrypted candidates', () => {
  let t: TestNode;
  let authorization: string;
  const ids: Record<string, string> = {};

  const post = async (body: { resourceType: string }) => {
    const r = await fetch(`${t.fhirUrl}/${body.resourceType}`, {
      method: 'POST',
      headers: { authorization, 'content-type': 'application/fhir+json' },
      body: JSON.stringify(body),
    });
    expect(r.status).toBe(201);
    return ((await r.json()) as { id: string }).id;
  };
  const search = async (query: string): Promise<SearchBundle> => {
    const r = await fetch(`${t.fhirUrl}/${query}`, { headers: { authorization } });
    expect(r.status, query).toBe(200);
    return (await r.json()) as SearchBundle;
  };
  const matchIds = (b: SearchBundle) =>
    (b.entry ?? []).filter((e) => e.search.mode === 'match').map((e) => e.resource.id);
  const obs = (patient: string, code: string, value: number, date: string) => ({
    resourceType: 'Observation',
    status: 'final',
    code: { coding: [{ system: 'http://loinc.org', code }] },
    subject: { reference: `Patient/${patient}` },
    effectiveDateTime: date,
    valueQuantity: { value, unit: 'mmHg', system: 'http://unitsofmeasure.org', code: 'mm[Hg]' },
  });

  beforeAll(async () => {
    t = await startTestNode();
    authorization = await t.bearer({ kind: 'system', scope: 'system/*.cruds' });
    ids.org = await post({ resourceType: 'Organization', name: 'General Hospital' } as never);
    ids.ana = await post({
      resourceType: 'Patient',
      name: [{ family: 'Müller', given: ['Ana'] }],
      birthDate: '1980-05-01',
      identifier: [{ system: 'urn:mrn', value: 'MRN-1' }],
      managingOrganization: { reference: `Organization/${ids.org}` },
    } as never);
    ids.ben = await post({
      resourceType: 'Patient',
      name: [{ family: 'Mullins', given: ['Ben'] }],
      birthDate: '1995-01-01',
      identifier: [{ system: 'urn:mrn', value: 'MRN-2' }],
    } as never);
    ids.o1 = await post(obs(ids.ana!, '8480-6', 120, '2024-01-10'));
    ids.o2 = await post(obs(ids.ana!, '8480-6', 145, '2024-03-10'));
    ids.o3 = await post(obs(ids.ben!, '8462-4', 80, '2024-02-10'));
  });
  afterAll(async () => t?.stop());

  it('token: system|code, code alone, and system| only', async () => {
    expect(matchIds(await search('Patient?identifier=urn:mrn|MRN-1'))).toEqual([ids.ana]);
    expect(matchIds(await search('Patient?identifier=MRN-2'))).toEqual([ids.ben]);
    expect((await search('Observation?code=http://loinc.org|8480-6')).total).toBe(2);
    expect((await search('Patient?identifier=urn:other|MRN-1')).total).toBe(0);
  });

  it('string: accent- and case-insensitive prefix; :exact is whole-value', async () => {
    expect(matchIds(await search('Patient?family=muller')).sort()).toEqual([ids.ana]);
    expect(matchIds(await search('Patient?family=mul')).sort()).toEqual([ids.ana, ids.ben].sort());
    expect((await search('Patient?family=uller')).total).toBe(0);
    expect(matchIds(await search('Patient?family:exact=Müller'))).toEqual([ids.ana]);
    expect((await search('Patient?family:exact=muller')).total).toBe(0);
  });

  it('string: query lengths between the indexed prefix lengths, and phonetic over name rows', async () => {
    // Indexed prefixes are 1, 3, 6 and 12 characters; 2, 4, 5 and 7+ are narrowed exactly.
    expect(matchIds(await search('Patient?family=mu')).sort()).toEqual([ids.ana, ids.ben].sort());
    expect(matchIds(await search('Patient?family=mull')).sort()).toEqual([ids.ana, ids.ben].sort()); // müller, mullins
    expect(matchIds(await search('Patient?family=mulle'))).toEqual([ids.ana]);
    expect(matchIds(await search('Patient?family=mulli'))).toEqual([ids.ben]);
    expect(matchIds(await search('Patient?family=mullins'))).toEqual([ids.ben]);
    expect((await search('Patient?family=mullinsx')).total).toBe(0);
    expect(matchIds(await search('Patient?name=ana'))).toEqual([ids.ana]);
    expect(matchIds(await search('Patient?phonetic=ben'))).toEqual([ids.ben]);
    expect((await search('Patient?phonetic=zed')).total).toBe(0);
  });

  it('date with prefixes, quantity, reference and _id', async () => {
    expect(matchIds(await search('Patient?birthdate=ge1990'))).toEqual([ids.ben]);
    expect(matchIds(await search('Patient?birthdate=lt1990-01-01'))).toEqual([ids.ana]);
    expect(matchIds(await search(`Observation?date=ge2024-02-01&patient=${ids.ana}`))).toEqual([ids.o2]);
    expect(matchIds(await search('Observation?value-quantity=gt130')).sort()).toEqual([ids.o2]);
    expect((await search(`Observation?subject=Patient/${ids.ana}`)).total).toBe(2);
    expect(matchIds(await search(`Observation?_id=${ids.o3}`))).toEqual([ids.o3]);
  });

  it('_lastUpdated, _sort, _count paging and _summary=count', async () => {
    expect((await search('Observation?_lastUpdated=gt2000-01-01')).total).toBe(3);
    expect((await search('Observation?_lastUpdated=lt2000-01-01')).total).toBe(0);
    const sorted = await search('Observation?_sort=-date');
    expect(matchIds(sorted)).toEqual([ids.o2, ids.o3, ids.o1]);
    const page = await search('Observation?_sort=date&_count=2');
    expect(matchIds(page)).toEqual([ids.o1, ids.o3]);
    expect(page.link.find((l) => l.relation === 'next')?.url).toContain('_offset=2');
    const count = await search('Observation?_summary=count');
    expect(count.total).toBe(3);
    expect(count.entry).toBeUndefined();
  });

  it('unsorted pages stop reading one match past the page: no total then, unless _total=accurate', async () => {
    const paged = await search('Observation?_count=1');
    expect(matchIds(paged)).toHaveLength(1);
    expect(paged.total).toBeUndefined(); // more candidates than the page: not all were read
    const pages = [matchIds(paged)];
    let next = paged.link.find((l) => l.relation === 'next')?.url;
    while (next) {
      const r = await fetch(next, { headers: { authorization } });
      const bundle = (await r.json()) as SearchBundle;
      pages.push(matchIds(bundle));
      next = bundle.link.find((l) => l.relation === 'next')?.url;
    }
    expect(pages.map((p) => p.length)).toEqual([1, 1, 1]);
    expect(pages.flat().sort()).toEqual([ids.o1, ids.o2, ids.o3].sort());
    const accurate = await search('Observation?_count=1&_total=accurate');
    expect(accurate.total).toBe(3);
    expect(matchIds(accurate)).toEqual(pages[0]);
    expect((await search('Observation?_count=5')).total).toBe(3); // the candidates ran out first
  });

  it('_include and _revinclude', async () => {
    const included = await search(`Patient?_id=${ids.ana}&_include=Patient:organization`);
    expect(included.entry?.find((e) => e.search.mode === 'include')?.resource.id).toBe(ids.org);
    const rev = await search(`Patient?_id=${ids.ana}&_revinclude=Observation:subject`);
    expect(
      rev.entry
        ?.filter((e) => e.search.mode === 'include')
        .map((e) => e.resource.id)
        .sort(),
    ).toEqual([ids.o1, ids.o2].sort());
  });

  it('the Patient compartment: /Patient/{id}/Observation and $everything', async () => {
    expect(matchIds(await search(`Patient/${ids.ana}/Observation`)).sort()).toEqual([ids.o1, ids.o2].sort());
    expect(matchIds(await search(`Patient/${ids.ana}/Observation?date=lt2024-02-01`))).toEqual([ids.o1]);
    const everything = await search(`Patient/${ids.ana}/$everything`);
    expect(everything.entry?.map((e) => e.resource.id).sort()).toEqual([ids.ana, ids.o1, ids.o2].sort());
  });

  it('POST _search answers like GET, and the index holds no plaintext identifier', async () => {
    const r = await fetch(`${t.fhirUrl}/Patient/_search`, {
      method: 'POST',
      headers: { authorization, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'identifier=urn:mrn|MRN-1',
    });
    expect(((await r.json()) as SearchBundle).total).toBe(1);
    const rows = await t.node.db.query<{ value: Uint8Array }>('SELECT value FROM fhir_search_index');
    const all = Buffer.concat(rows.map((row) => Buffer.from(row.value))).toString('latin1');
    for (const secret of ['MRN-1', 'mrn-1', 'müller', 'muller', '1980'])
      expect(all.includes(secret)).toBe(false);
    expect(rows.every((row) => Buffer.from(row.value).length === 32)).toBe(true);
  });

  it('updates replace and deletes remove a resource from the index', async () => {
    const r = await fetch(`${t.fhirUrl}/Patient/${ids.ben}`, {
      method: 'DELETE',
      headers: { authorization },
    });
    expect(r.status).toBeLessThan(300);
    expect((await search('Patient?identifier=MRN-2')).total).toBe(0);
    expect((await search('Patient?family=mul')).total).toBe(1);
  });
});
