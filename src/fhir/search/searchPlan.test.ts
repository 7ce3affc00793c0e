import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestNode, type TestNode } from '../testing/startTestNode.ts';

/**
 * What a search reads through the vault (each read is a decryption and a proof check): the
 * index intersects the filters and bounds a patient's search by their compartment, so only
 * matches are decrypted, and a one-patient count decrypts nothing.
 */
describe('search plan: what the vault decrypts', () => {
  let t: TestNode;
  let system: string;
  let ana: string;
  let ben: string;
  const decrypted: string[] = [];

  const search = async (query: string, authorization: string) => {
    decrypted.length = 0;
    const r = await fetch(`${t.fhirUrl}/${query}`, { headers: { authorization } });
    expect(r.status, query).toBe(200);
    return (await r.json()) as { total?: number; entry?: { resource: { id: string } }[] };
  };
  const obs = (patient: string, code: string, performer?: string) => ({
    resourceType: 'Observation',
    status: 'final',
    code: { coding: [{ system: 'http://loinc.org', code }] },
    subject: { reference: `Patient/${patient}` },
    ...(performer ? { performer: [{ reference: `Patient/${performer}` }] } : {}),
  });

  beforeAll(async () => {
    t = await startTestNode();
    system = await t.bearer({ kind: 'system', scope: 'system/*.cruds' });
    ana = await t.create({ resourceType: 'Patient', name: [{ family: 'Plan' }] }, system);
    ben = await t.create({ resourceType: 'Patient', name: [{ family: 'Other' }] }, system);
    for (const code of ['8480-6', '8480-6', '8480-6', '8462-4', '8462-4'])
      await t.create(obs(ana, code), system);
    for (let i = 0; i < 4; i++) await t.create(obs(ben, '8480-6'), system);
    // Every read through the vault, by id (the search's prefetch and single reads).
    const vault = t.node.vault;
    const many = vault.readCurrentMany.bind(vault);
    vault.readCurrentMany = ((type: string, ids: readonly string[]) => {
      decrypted.push(...ids.map((id) => `${type}/${id}`));
      return many(type, ids);
    }) as typeof vault.readCurrentMany;
  });
  afterAll(() => t?.stop());

  it("a two-filter search decrypts exactly its matches, not the other patients' rows of the code", async () => {
    const bundle = await search(`Observation?patient=${ana}&code=http://loinc.org|8480-6`, system);
    const found = (bundle.entry ?? []).map((e) => `Observation/${e.resource.id}`);
    expect(found).toHaveLength(3);
    expect([...decrypted].sort()).toEqual([...found].sort());
  });

  it('a search that matches nothing decrypts nothing', async () => {
    const bundle = await search(`Observation?patient=${ana}&code=http://loinc.org|0000-0`, system);
    expect(bundle.entry ?? []).toHaveLength(0);
    expect(bundle.total).toBe(0);
    expect(decrypted).toEqual([]);
  });

  it("a patient's _summary=count without patient= counts their compartment only, decrypting nothing", async () => {
    const asAna = await t.bearer({ kind: 'patient', scope: 'patient/*.rs', patient: ana });
    expect((await search('Observation?_summary=count', asAna)).total).toBe(5);
    expect(decrypted).toEqual([]);
    expect((await search('Observation?code=http://loinc.org|8480-6&_summary=count', asAna)).total).toBe(3);
    expect(decrypted).toEqual([]);
    // Their own searches read only their own records.
    const page = await search('Observation?code=http://loinc.org|8480-6', asAna);
    expect(page.entry).toHaveLength(3);
    expect(decrypted).toHaveLength(3);
  });

  it('a count with _total and a page: the total from the index, only the page decrypted', async () => {
    const bundle = await search(`Observation?patient=${ana}&_count=2&_total=accurate`, system);
    expect(bundle.total).toBe(5);
    expect(bundle.entry).toHaveLength(2);
    // The page and the read-ahead of the first chunk (page + 2), not every match.
    expect(decrypted.length).toBeLessThanOrEqual(4);
  });

  it("a record in two patients' compartments is decided for both: not counted from the index", async () => {
    const shared = await t.create(obs(ana, '8480-6', ben), system);
    const asAna = await t.bearer({ kind: 'patient', scope: 'patient/*.rs', patient: ana });
    // Ben's record too: Ana's token may not see it, so it is read, decided and left out.
    expect((await search('Observation?_summary=count', asAna)).total).toBe(5);
    expect(decrypted).toContain(`Observation/${shared}`);
    // The institution's system may see both patients: counted, after reading each candidate.
    expect((await search(`Observation?patient=${ana}&_summary=count`, system)).total).toBe(6);
    expect(decrypted).toContain(`Observation/${shared}`);
  });

  it('a granular scope decides each resource: its count reads the candidates', async () => {
    const granular = await t.bearer({
      kind: 'system',
      scope: 'system/Observation.rs?code=http://loinc.org|8462-4',
    });
    expect((await search(`Observation?patient=${ana}&_summary=count`, granular)).total).toBe(2);
    expect(decrypted.length).toBeGreaterThan(0);
  });
});
