/**
 * Records a chain write in the outbox, inside the caller's transaction, so the write
 * and the data it concerns commit (or roll back) together. The outbox worker sends it
 * later, exactly once. A second call with the same `dedupeKey` is a no-op.
 */
import type { Queryable } from '../../store/db.ts';

export type OutboxContract = 'registry' | 'consent' | 'anchors';

export interface ChainWrite {
  /** Unique per intended effect, e.g. `anchor:records:42`; guards against enqueueing twice. */
  dedupeKey: string;
  contract: OutboxContract;
  functionName: string;
  /** JSON-safe arguments: bigints as decimal strings, bytes as 0x-hex. */
  args: readonly (string | number | boolean | readonly string[])[];
}

/** Returns the outbox id, or undefined when an entry with the same dedupe key already existed. */
export async function enqueueChainWrite(tx: Queryable, write: ChainWrite): Promise<bigint | undefined> {
  const rows = await tx.query<{ id: string }>(
    `INSERT INTO chain_outbox (dedupe_key, contract, function_name, args)
     VALUES ($1, $2, $3, $4::jsonb)
     ON CONFLICT (dedupe_key) DO NOTHING
     RETURNING id::text AS id`,
    [write.dedupeKey, write.contract, write.functionName, JSON.stringify(write.args)],
  );
  const id = rows[0]?.id;
  return id === undefined ? undefined : BigInt(id);
}
