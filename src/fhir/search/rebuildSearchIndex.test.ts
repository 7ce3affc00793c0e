import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestNode, type TestNode } from '../testing/startTestNode.ts';
import { rebuildSearchIndexIfRequested } from './rebuildSearchIndex.ts';
import { searchIndexKeyFor } from './SearchIndexKey.ts';

describe('search index rebuilt from the vault (after a change of index format)', () => {
  let t: TestNode;
  let admin: string;
  beforeAll(async () => {
    t = await startTestNode();
    admin = await t.bearer({ kind: 'system', scope: 'system/*.cruds' });
  });
  afterAll(async () => {
    await t?.stop();
  });

  const total = async (query: string) => {
    const response = await fetch(`${t.fhirUrl}/${query}${query.includes('?') ? '&' : '?'}_summary=count`, {
      headers: { authorization: admin },
    });
    expect(response.status).toBe(200);
    return ((await response.json()) as { total: number }).total;
  };

  it('a fresh node has nothing to rebuild (the migration’s request was served at start)', async () => {
    expect(await t.countRows('fhir_search_index_rebuild')).toBe(0);
    const key = await searchIndexKeyFor(t.node.config.dataDir);
    expect(await rebuildSearchIndexIfRequested(t.node.db, t.node.vault, key)).toBeUndefined();
  });

  it('rebuilds exactly the rows the writes made, and searches find what they found before', async () => {
    const family = `Rebuild${Date.now()}`;
    const patients: string[] = [];
    for (let i = 0; i < 3; i++)
      patients.push(await t.create({ resourceType: 'Patient', name: [{ family, given: [`G${i}`] }] }, admin));
    for (const patient of patients)
      await t.create(
        {
          resourceType: 'Observation',
          status: 'final',
          code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] },
          subject: { reference: `Patient/${patient}` },
        },
        admin,
      );
    const gone = await fetch(`${t.fhirUrl}/Patient/${patients[2]}`, {
      method: 'DELETE',
      headers: { authorization: admin },
    });
    expect(gone.status).toBeLessThan(300);
    const queries = [
      `Patient?family=${family}`,
      `Observation?subject=Patient/${patients[0]}`,
      `Patient/${patients[1]}/Observation`,
      'Observation?code=http://loinc.org|8867-4',
    ];
    const before = await Promise.all(queries.map(total));
    expect(before[0]).toBe(2);
    expect(before[1]).toBe(1);
    const rows = await t.countRows('fhir_search_index');

    // What the migration does: the old rows go, a rebuild is requested.
    await t.node.db.exec('TRUNCATE fhir_search_index; INSERT INTO fhir_search_index_rebuild DEFAULT VALUES;');
    expect(await total(`Patient?family=${family}`)).toBe(0);

    const key = await searchIndexKeyFor(t.node.config.dataDir);
    const result = await rebuildSearchIndexIfRequested(t.node.db, t.node.vault, key);
    expect(result?.skipped).toBeGreaterThanOrEqual(1); // the deleted Patient
    expect(result?.indexed).toBeGreaterThanOrEqual(5);
    expect(await t.countRows('fhir_search_index')).toBe(rows);
    expect(await t.countRows('fhir_search_index_rebuild')).toBe(0);
    expect(await Promise.all(queries.map(total))).toEqual(before);
    // Asked again, there is nothing to do.
    expect(await rebuildSearchIndexIfRequested(t.node.db, t.node.vault, key)).toBeUndefined();
  });
});
