/**
 * One SQL interface over both storage back ends: PGlite (PostgreSQL compiled to
 * WebAssembly, in process, data in a directory) and a PostgreSQL server through `pg`.
 * Both speak the same dialect, so every module writes plain PostgreSQL once.
 */
import type { PGlite } from '@electric-sql/pglite';
import type { Client, Pool, PoolClient } from 'pg';
import { StoreError } from '../errors/MedledgerError.ts';
import { pglitePrepared } from './pglitePrepared.ts';
import { isStatement, type Statement } from './statement.ts';

export { type Statement, statement } from './statement.ts';

export type SqlParam = string | number | bigint | boolean | null | Uint8Array | Date | string[] | number[];

/**
 * Anything that runs a parameterized statement: the database or an open transaction. SQL text is
 * parsed and planned on every call; a {@link Statement} is prepared once per connection.
 */
export interface Queryable {
  query<Row = Record<string, unknown>>(sql: string | Statement, params?: readonly SqlParam[]): Promise<Row[]>;
}

export interface Db extends Queryable {
  readonly kind: 'pglite' | 'postgres';
  /** Runs `fn` in one transaction: committed when it resolves, rolled back when it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  /** Runs a script of several statements without parameters (migrations). */
  exec(sql: string): Promise<void>;
  /**
   * Calls `onNotify` with the payload of every `NOTIFY channel` committed by any connection (this
   * process's or another's). After a lost connection it reconnects and calls `onNotify('*')`: what
   * was sent meanwhile is unknown, so a listener treats `'*'` as "anything may have happened".
   */
  listen(channel: string, onNotify: (payload: string) => void): Promise<Listening>;
  /**
   * A connection of its own, outside the pool (a PostgreSQL server only): for session state such as
   * an advisory lock held for as long as the connection lives. The caller ends it.
   */
  dedicatedConnection?(): Promise<Client>;
  close(): Promise<void>;
}

export interface Listening {
  close(): Promise<void>;
}

/** Wraps a PGlite instance. PGlite serializes transactions itself (one connection). */
export function pgliteDb(pg: PGlite): Db {
  const prepared = pglitePrepared(pg);
  const run: Queryable['query'] = async (sql, params) => {
    if (isStatement(sql)) return (await prepared.run(sql, params ?? [], false)) as never;
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
            if (isStatement(sql)) return (await prepared.run(sql, params ?? [], true)) as never;
            const result = await tx.query(sql, params as unknown[] | undefined);
            return result.rows as never;
          },
        }),
      );
    },
    async exec(sql) {
      await pg.exec(sql);
    },
    async listen(channel, onNotify) {
      const unlisten = await pg.listen(channel, onNotify);
      return { close: () => unlisten() };
    },
    async close() {
      await pg.close();
    },
  };
}

/**
 * Wraps a `pg` pool of connections to a PostgreSQL server. When the server goes away (restart,
 * failover), statements fail with a StoreError (503) instead of crashing the process, broken
 * connections are discarded, and the pool reconnects on the next statement.
 */
export function postgresDb(pool: Pool): Db {
  const dedicatedConnection = async (): Promise<Client> => {
    const { default: pg } = await import('pg');
    const client = new pg.Client({ ...pool.options, keepAlive: true });
    try {
      await client.connect();
    } catch (error) {
      await client.end().catch(() => {});
      throw asStoreError(error);
    }
    return client;
  };
  return {
    kind: 'postgres',
    ...onClient(pool),
    async transaction(fn) {
      const client = await pool.connect().catch((error: unknown) => {
        throw asStoreError(error);
      });
      // A checked-out client's connection errors are emitted on it, not on the pool:
      // without a listener they would end the process (node-postgres docs, "pool.connect").
      let broken: unknown;
      const onError = (error: unknown) => {
        broken = error;
      };
      client.on('error', onError);
      try {
        await client.query('BEGIN');
        const result = await fn(onClient(client));
        await client.query('COMMIT');
        return result;
      } catch (error) {
        await client.query('ROLLBACK').catch((rollbackError: unknown) => {
          broken ??= rollbackError;
        });
        throw asStoreError(error);
      } finally {
        client.off('error', onError);
        // A broken connection is destroyed rather than returned to the pool.
        client.release(broken instanceof Error ? broken : broken === undefined ? undefined : true);
      }
    },
    async exec(sql) {
      await pool.query(sql).catch((error: unknown) => {
        throw asStoreError(error);
      });
    },
    listen: (channel, onNotify) => listenOnServer(dedicatedConnection, channel, onNotify),
    dedicatedConnection,
    async close() {
      await pool.end();
    },
  };
}

const onClient = (client: PoolClient | Pool | Client): Queryable => ({
  async query(sql, params) {
    try {
      const values = params as unknown[] | undefined;
      // node-postgres prepares a named statement once per connection and reuses it.
      const result = isStatement(sql)
        ? await client.query({ name: sql.name, text: sql.text, values: values ?? [] })
        : await client.query(sql, values);
      return result.rows as never;
    } catch (error) {
      throw asStoreError(error);
    }
  },
});

/**
 * A Db over one server connection (a dedicated one: {@link Db.dedicatedConnection}): statements and
 * transactions take turns, as on PGlite. Whatever runs on it ends with the connection, so work
 * fenced by a session lock held on it cannot outlive the lock.
 */
export function connectionDb(client: Client): Db {
  const queryable = onClient(client);
  let turn: Promise<unknown> = Promise.resolve();
  const serialized = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = turn.then(fn, fn);
    turn = run.catch(() => {});
    return run;
  };
  return {
    kind: 'postgres',
    query: (sql, params) => serialized(() => queryable.query(sql, params)),
    transaction: (fn) =>
      serialized(async () => {
        await queryable.query('BEGIN');
        try {
          const result = await fn(queryable);
          await queryable.query('COMMIT');
          return result;
        } catch (error) {
          await queryable.query('ROLLBACK').catch(() => {});
          throw error;
        }
      }),
    exec: (sql) =>
      serialized(async () => {
        await client.query(sql).catch((error: unknown) => {
          throw asStoreError(error);
        });
      }),
    listen: () => Promise.reject(new Error('listen on the pool, not on a dedicated connection')),
    async close() {
      await client.end();
    },
  };
}

/** LISTEN on a dedicated connection, reconnected (with `'*'` to the listener) when it is lost. */
async function listenOnServer(
  connect: () => Promise<Client>,
  channel: string,
  onNotify: (payload: string) => void,
): Promise<Listening> {
  let closed = false;
  let client: Client | undefined;
  let retry: NodeJS.Timeout | undefined;
  const open = async (): Promise<void> => {
    const next = await connect();
    next.on('notification', (message) => {
      if (message.channel === channel) onNotify(message.payload ?? '');
    });
    const lost = () => {
      if (client !== next) return;
      client = undefined;
      next.end().catch(() => {});
      if (!closed) reconnect();
    };
    next.on('error', lost);
    next.on('end', lost);
    await next.query(`LISTEN ${quoteIdentifier(channel)}`);
    client = next;
  };
  const reconnect = (delayMs = 200) => {
    retry = setTimeout(() => {
      open().then(
        () => onNotify('*'),
        () => {
          if (!closed) reconnect(Math.min(delayMs * 2, 5_000));
        },
      );
    }, delayMs);
    retry.unref();
  };
  await open();
  return {
    async close() {
      closed = true;
      clearTimeout(retry);
      const last = client;
      client = undefined;
      await last?.end().catch(() => {});
    },
  };
}

const quoteIdentifier = (name: string) => `"${name.replaceAll('"', '""')}"`;

/**
 * Errors meaning the server cannot be reached or is going away (SQLSTATE class 08, 57P01-57P03,
 * socket errors, a connection ended mid-statement) become StoreError (503); statement errors
 * (constraint violations, serialization failures, ...) pass through unchanged.
 */
function asStoreError(error: unknown): unknown {
  if (error instanceof StoreError) return error;
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  const text = typeof message === 'string' ? message : '';
  const unreachable =
    (typeof code === 'string' &&
      (code.startsWith('08') ||
        ['57P01', '57P02', '57P03', 'ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT'].includes(code))) ||
    /Connection terminated|connection is closed|Client has encountered a connection error/i.test(text);
  return unreachable
    ? new StoreError(`the PostgreSQL server is unavailable: ${text || String(code)}`, error)
    : error;
}
