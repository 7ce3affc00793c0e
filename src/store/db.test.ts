import { createHash, randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { migrations } from '../node/migrations.ts';
import { type Db, statement } from './db.ts';
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
    const again = await migrate(db, migrations);
    expect(again).toEqual([]);
    const rows = await db.query<{ id: string }>('SELECT id FROM schema_migrations ORDER BY id');
    expect(rows.map((r) => r.id)).toContain('0001_outbox');
  });

  it('a prepared statement returns what the same SQL text returns, for every parameter type, in and out of transactions', async () => {
    db = await open();
    await db.exec('CREATE TABLE p (k text PRIMARY KEY, n bigint, b bytea, tags text[], at timestamptz)');
    const insert = statement(
      'INSERT INTO p (k, n, b, tags, at) VALUES ($1, $2, $3, $4, $5::timestamptz) RETURNING k',
    );
    const select = statement(
      'SELECT k, n::text AS n, b, tags, at::text AS at FROM p WHERE k = ANY($1::text[]) ORDER BY k',
    );
    const bytes = Buffer.from([0, 1, 2, 254, 255]);
    expect(
      await db.query(insert, ['a', 9007199254740993n, bytes, ['x', 'y,z'], '2024-01-02T03:04:05Z']),
    ).toEqual([{ k: 'a' }]);
    await db.transaction(async (tx) => {
      await tx.query(insert, ['b', 2, Buffer.alloc(0), [], '2024-01-02T03:04:05Z']);
      expect((await tx.query(select, [['b']])).length).toBe(1);
    });
    const text = await db.query(
      'SELECT k, n::text AS n, b, tags, at::text AS at FROM p WHERE k = ANY($1::text[]) ORDER BY k',
      [['a', 'b']],
    );
    const prepared = await db.query<{ k: string; n: string; b: Uint8Array; tags: string[] }>(select, [
      ['a', 'b'],
    ]);
    expect(prepared).toEqual(text);
    expect(prepared[0]?.n).toBe('9007199254740993');
    expect(Buffer.from(prepared[0]!.b).equals(bytes)).toBe(true);
    expect(prepared[0]?.tags).toEqual(['x', 'y,z']);
  });

  it('bytea parameters of a prepared statement arrive byte for byte: every byte value, empty, a view into a larger buffer', async () => {
    db = await open();
    await db.exec('CREATE TABLE bin (k int PRIMARY KEY, b bytea NOT NULL)');
    const insert = statement(
      'INSERT INTO bin (k, b) VALUES ($1, $2) RETURNING length(b) AS n, md5(b) AS md5',
    );
    const every = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const backing = Buffer.concat([Buffer.from('before'), every, Buffer.from('after')]);
    const view = new Uint8Array(backing.buffer, backing.byteOffset + 6, 256); // not a Buffer, offset 6
    const md5 = (b: Uint8Array) => createHash('md5').update(b).digest('hex');
    const cases: Uint8Array[] = [every, new Uint8Array(0), view, randomBytes(70_000)];
    for (const [k, bytes] of cases.entries()) {
      expect(await db.query(insert, [k, bytes])).toEqual([{ n: bytes.length, md5: md5(bytes) }]);
    }
    const rows = await db.query<{ b: Uint8Array }>('SELECT b FROM bin ORDER BY k');
    expect(rows.map((r) => md5(r.b))).toEqual(cases.map(md5));
  });

  it('a failing prepared statement reports its SQLSTATE, rolls its transaction back, and stays usable', async () => {
    db = await open();
    await db.exec('CREATE TABLE u (k text PRIMARY KEY)');
    const insert = statement('INSERT INTO u (k) VALUES ($1)');
    await db.query(insert, ['a']);
    await expect(db.query(insert, ['a'])).rejects.toMatchObject({ code: '23505' });
    await expect(
      db.transaction(async (tx) => {
        await tx.query(insert, ['b']);
        await tx.query(insert, ['a']);
      }),
    ).rejects.toMatchObject({ code: '23505' });
    await db.query(insert, ['c']);
    const rows = await db.query<{ k: string }>('SELECT k FROM u ORDER BY k');
    expect(rows.map((r) => r.k)).toEqual(['a', 'c']);
    // A statement that does not parse is an error every time, never a stale success.
    const broken = statement('SELEC k FROM u');
    await expect(db.query(broken)).rejects.toMatchObject({ code: '42601' });
    await expect(db.query(broken)).rejects.toMatchObject({ code: '42601' });
  });
});
