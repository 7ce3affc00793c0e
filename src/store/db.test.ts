import { afterEach, describe, expect, it } from 'vitest';
import type { Db } from './db.ts';
import { migrate } from './migrate.ts';
import { testDatabases } from './testing/databases.ts';

describe.each(testDatabases)('store on $name', ({ open }) => {
  let db: Db | undefined;
  afterEach(async () => {
    await db?.close();
    db = undefined;
  });

  it('a transaction that throws leaves nothing written', async () => {
    db = await open();
    await db.exec('CREATE TABLE t (v int)');
    await expect(
      db.transaction(async (tx) => {
        await tx.query('INSERT INTO t (v) VALUES ($1)', [1]);
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(await db.query('SELECT * FROM t')).toEqual([]);
    await db.transaction((tx) => tx.query('INSERT INTO t (v) VALUES ($1)', [2]));
    expect(await db.query('SELECT v FROM t')).toEqual([{ v: 2 }]);
  });

  it('migrations apply once and are recorded', async () => {
    db = await open();
    const again = await migrate(db);
    expect(again).toEqual([]);
    const rows = await db.query<{ id: string }>('SELECT id FROM schema_migrations ORDER BY id');
    expect(rows.map((r) => r.id)).toContain('0001_outbox');
  });
});
