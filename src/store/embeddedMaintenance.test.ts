/**
 * The embedded database's statistics are kept up by the node (PGlite has no autovacuum): a table
 * that grew gets VACUUM (ANALYZE), one that did not is left alone, and a server is left to its own
 * autovacuum.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from './db.ts';
import { EmbeddedMaintenance, refreshStaleStatistics } from './embeddedMaintenance.ts';
import { testDatabases } from './testing/databases.ts';
import { openTestEmbedded } from './testing/embeddedTemplate.ts';

const statistics = async (db: Db, table: string) =>
  (
    await db.query<{ reltuples: number }>(
      `SELECT reltuples::int AS reltuples FROM pg_class WHERE relname = $1 AND relnamespace = current_schema()::regnamespace`,
      [table],
    )
  )[0];

describe('embedded database maintenance', () => {
  let db: Db;
  beforeAll(async () => {
    db = await openTestEmbedded();
  });
  afterAll(async () => db?.close());

  it('analyzes a table that grew, and only then', async () => {
    await db.exec('CREATE TABLE grown (a int, b text)');
    await db.exec(`INSERT INTO grown SELECT i, repeat('x', 50) FROM generate_series(1, 20000) AS i`);
    expect((await statistics(db, 'grown'))?.reltuples).toBe(-1); // never analyzed
    expect(await refreshStaleStatistics(db)).toContain('grown');
    expect((await statistics(db, 'grown'))?.reltuples).toBe(20000);
    // Nothing grew since: nothing to do.
    expect(await refreshStaleStatistics(db)).toEqual([]);
    // Updating every row doubles the file (dead versions): vacuumed and analyzed again.
    await db.exec('UPDATE grown SET a = a + 1');
    expect(await refreshStaleStatistics(db)).toEqual(['grown']);
    expect(await refreshStaleStatistics(db)).toEqual([]);
  });

  it('runs on a timer while started and stops cleanly', async () => {
    await db.exec('CREATE TABLE later (a int)');
    const errors: unknown[] = [];
    const maintenance = new EmbeddedMaintenance(db, (e) => errors.push(e), 50);
    maintenance.start();
    await db.exec('INSERT INTO later SELECT generate_series(1, 5000)');
    const deadline = Date.now() + 30_000;
    while ((await statistics(db, 'later'))?.reltuples !== 5000) {
      if (Date.now() > deadline) throw new Error('the timer never analyzed the table');
      await new Promise((r) => setTimeout(r, 50));
    }
    await maintenance.stop();
    expect(errors).toEqual([]);
  });

  it('leaves a PostgreSQL server to its autovacuum', async () => {
    const server = await (
      testDatabases.find((d) => d.name === 'postgres') as (typeof testDatabases)[number]
    ).open();
    try {
      await server.exec('CREATE TABLE grown (a int)');
      await server.exec('INSERT INTO grown SELECT generate_series(1, 20000)');
      expect(await refreshStaleStatistics(server)).toEqual([]);
    } finally {
      await server.close();
    }
  });
});
