/**
 * Named prepared statements on PGlite. `PGlite.query` sends Parse, Describe, Bind, Describe,
 * Execute and Sync for every call, so each call parses and plans its SQL again. This sends Parse
 * and Describe once per statement name, then Bind, Describe, Execute and Sync, through PGlite's
 * public protocol API (`execProtocolStream`, `protocol.serialize`, `parse.parseResults`) and under
 * its own mutexes, exactly as `PGlite.query` does; the four messages of an execution go in one
 * call. Values are serialized with the instance's serializers by the parameter types PostgreSQL
 * reported, as `PGlite.query` does.
 */
import { type PGlite, parse, protocol } from '@electric-sql/pglite';
import type { Statement } from './statement.ts';

/** PostgreSQL's type oid of bytea. */
export const BYTEA = 17;

type Messages = Awaited<ReturnType<PGlite['execProtocolStream']>>;

export interface PglitePrepared {
  /** Runs `statement` with `params`; `inTransaction`: the caller holds PGlite's transaction. */
  run(statement: Statement, params: readonly unknown[], inTransaction: boolean): Promise<unknown[]>;
}

export function pglitePrepared(pg: PGlite): PglitePrepared {
  const { serialize } = protocol;
  /** Statement name -> parameter type oids, for statements this connection has prepared. */
  const prepared = new Map<string, number[]>();
  const send = (message: Uint8Array): Promise<Messages> =>
    pg.execProtocolStream(message, { syncToFs: false });

  const prepare = async (st: Statement): Promise<number[]> => {
    const known = prepared.get(st.name);
    if (known) return known;
    await send(serialize.parse({ name: st.name, text: st.text }));
    try {
      const types = parse.parseDescribeStatementResults(
        await send(serialize.describe({ type: 'S', name: st.name })),
      );
      prepared.set(st.name, types);
      return types;
    } catch (error) {
      // Parsed but not described: close it so the next attempt can parse it again.
      await send(serialize.close({ type: 'S', name: st.name })).catch(() => {});
      throw error;
    }
  };

  const execute = async (st: Statement, params: readonly unknown[], inTransaction: boolean) => {
    let types: number[];
    try {
      types = await prepare(st);
    } catch (error) {
      // A failed Parse leaves the backend skipping messages until a Sync.
      await send(serialize.sync()).catch(() => {});
      throw error;
    }
    const values = params.map((param, i) => {
      if (param === null || param === undefined) return null;
      // bytea goes as it is, in binary format: no hex text to write here and parse in the backend.
      if (types[i] === BYTEA && param instanceof Uint8Array) return param;
      const serializer = pg.serializers[types[i] ?? 0];
      return serializer ? serializer(param) : String(param);
    });
    // Bind, Describe, Execute and Sync in one call: the backend reads them from its input in order
    // (one trip into WebAssembly instead of four). An error in any of them is reported, and the
    // backend skips to the Sync, as when they are sent one by one.
    const messages = await send(
      Buffer.concat([
        serialize.bind({ statement: st.name, values }),
        serialize.describe({ type: 'P' }),
        serialize.execute({}),
        serialize.sync(),
      ]),
    );
    if (!inTransaction) await pg.syncToFs();
    return parse.parseResults(messages, pg.parsers)[0]?.rows ?? [];
  };

  return {
    run(st, params, inTransaction) {
      const inQueryLock = () => pg._runExclusiveQuery(() => execute(st, params, inTransaction));
      // Outside a transaction, wait for any open transaction as `PGlite.query` does.
      return inTransaction ? inQueryLock() : pg._runExclusiveTransaction(inQueryLock);
    },
  };
}
