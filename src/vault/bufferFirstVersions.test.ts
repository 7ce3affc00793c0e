import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Queryable, statement } from '../store/db.ts';
import { testDatabases } from '../store/testing/databases.ts';
import { openTestVault, type TestVault } from './testing/openTestVault.ts';
import { bufferFirstVersions } from './writeRecordVersion.ts';

const COUNT = statement('SELECT count(*)::int AS n FROM record_versions WHERE resource_id = ANY($1::text[])');

/** Counts the statements that reach the transaction (the buffer's own included). */
function counting(q: Queryable) {
  const seen: string[] = [];
  const wrapped: Queryable = {
    query(sql, params) {
      seen.push(typeof sql === 'string' ? sql : sql.text);
      return q.query(sql, params);
    },
  };
  return { wrapped, seen };
}

describe.each(testDatabases)('version-1 inserts held back (bulk import) on $name', (database) => {
  let t: TestVault;
  beforeAll(async () => {
    t = await openTestVault(database);
  });
  afterAll(async () => {
    await t.close();
  });

  const observation = (i: number) => ({
    resourceType: 'Observation',
    status: 'final',
    code: { text: `held ${i}` },
  });

  it('writes held rows in one statement, before any other statement, and every row reads back verified', async () => {
    const ids = Array.from({ length: 5 }, (_, i) => `held-${Date.now()}-${i}`);
    let before = -1;
    let statements: string[] = [];
    await t.db.transaction(async (raw) => {
      const { wrapped, seen } = counting(raw);
      const tx = bufferFirstVersions(wrapped);
      for (const [i, id] of ids.slice(0, 3).entries()) await t.vault.createIn(tx, observation(i), { id });
      expect(seen).toHaveLength(0); // nothing sent yet
      // Any other statement sees the held rows: they are written first.
      before = (await tx.query<{ n: number }>(COUNT, [ids]))[0]!.n;
      expect(seen).toHaveLength(2);
      for (const [i, id] of ids.slice(3).entries()) await t.vault.createIn(tx, observation(3 + i), { id });
      // An update in the same transaction finds version 1 of a held row.
      await t.vault.updateIn(tx, { ...observation(9), id: ids[4]! });
      await tx.flush();
      statements = seen;
    });
    expect(before).toBe(3);
    // 3 held rows, the count, 2 held rows (flushed by the update's version look-up), the look-up, the update.
    expect(statements.filter((s) => s.includes('unnest($1::text[], $2::text[], $3::boolean[]'))).toHaveLength(
      2,
    );
    for (const [i, id] of ids.entries()) {
      const read = await t.vault.read('Observation', id);
      expect(read.resource.code).toEqual({ text: `held ${i === 4 ? 9 : i}` });
      expect(read.resource.meta?.versionId).toBe(i === 4 ? '2' : '1');
    }
  });

  it('a duplicate id among held rows is a version conflict at the flush, and the transaction writes nothing', async () => {
    const existing = `held-dup-${Date.now()}`;
    await t.vault.createIn(t.db, observation(0), { id: existing });
    const fresh = `held-fresh-${Date.now()}`;
    await expect(
      t.db.transaction(async (raw) => {
        const tx = bufferFirstVersions(raw);
        await t.vault.createIn(tx, observation(1), { id: fresh });
        await t.vault.createIn(tx, observation(2), { id: existing });
        await tx.flush();
      }),
    ).rejects.toMatchObject({ code: 'ERR_VERSION_CONFLICT' });
    const [row] = await t.db.query<{ n: number }>(COUNT, [[fresh, existing]]);
    expect(row?.n).toBe(1);
    expect((await t.vault.read('Observation', existing)).resource.code).toEqual({ text: 'held 0' });
  });
});
