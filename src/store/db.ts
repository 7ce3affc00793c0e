/**
 * One SQL interface over both storage back ends: PGlite (PostgreSQL compiled to
 * WebAssembly, in process, data in a directory) and a PostgreSQL server through `pg`.
 * Both speak the same dialect, so every module writes plain PostgreSQL once.
 */
import type { PGlite } from '@electric-sql/pglite';
import type { Pool, PoolClient } from 'pg';

export type SqlParam = string | number | bigint | boolean | null | Uint8Array | Date | string[] | number[];

/** Anything that runs a parameterized statement: the database or an open transaction. */
export interface Queryable {
  query<Row = Record<string, unknown>>(sql: string, params?: readonly SqlParam[]): Promise<Row[]>;
}

export interface Db extends Queryable {
  readonly kind: 'pglite' | 'postgres';
  /** Runs `fn` in one transaction: committed when it resolves, rolled back when it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  /** Runs a script of several statements without parameters (migrations). */
  exec(sql: string): Promise<void>;
  close(): Promise<void>;
}

/** Wraps a PGlite instance. PGlite serializes transactions itself (one connection). */
export function pgliteDb(pg: PGlite): Db {
  const run: Queryable['query'] = async (sql, params) => {
    const result = await pg.query(sql, params as unknown[] | undefined);
    return result.rows as never;
  };
  return {
    kind: 'pglite',
    query: run,
    async transaction(fn) {
      return pg.transaction((tx) =>
        fn({
          async query(sql, params) {
            const result = await tx.query(sql, params as unknown[] | undefined);
            return result.rows as never;
          },
        }),
      );
    },
    async exec(sql) {
      await pg.exec(sql);
    },
    async close() {
      await pg.close();
    },
  };
}

/** Wraps a `pg` pool of connections to a PostgreSQL server. */
export function postgresDb(pool: Pool): Db {
  const onClient = (client: PoolClient | Pool): Queryable => ({
    async query(sql, params) {
      const result = await client.query(sql, params as unknown[] | undefined);
      return result.rows as never;
    },
  });
  return {
    kind: 'postgres',
    ...onClient(pool),
    async transaction(fn) {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        const result = await fn(onClient(client));
        await client.query('COMMIT');
        return result;
      } catch (error) {
        await client.query('ROLLBACK').catch(() => {});
        throw error;
      } finally {
        client.release();
      }
    },
    async exec(sql) {
      await pool.query(sql);
    },
    async close() {
      await pool.end();
    },
  };
}
