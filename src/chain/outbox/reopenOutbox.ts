/**
 * Puts chain writes back in flight when the chain no longer holds the block they were confirmed
 * in (a reorganisation, a rollback, a chain node restarted from an older state). The entry keeps
 * its signed bytes: the worker re-broadcasts them while their nonce is still free on chain and
 * signs the write afresh with the next nonce otherwise, so nothing is lost and, because anchors
 * and consent changes are only valid once (contiguous sequences, replay nonces), nothing lands
 * twice.
 */
import type { Queryable } from '../../store/db.ts';

/** Reopens every write confirmed (or reverted) in a block above `block`; returns how many. */
export async function reopenOutboxAbove(tx: Queryable, block: bigint): Promise<number> {
  const rows = await tx.query<{ id: string }>(
    `UPDATE chain_outbox SET status = 'signed', block_number = NULL, block_hash = NULL, gas_used = NULL,
       confirmed_at = NULL, broadcast_at = NULL, last_error = NULL, reopened_at = now(), reopened = reopened + 1
     WHERE status IN ('confirmed', 'failed') AND block_number > $1 AND raw_tx IS NOT NULL
     RETURNING id::text AS id`,
    [block.toString()],
  );
  return rows.length;
}

/**
 * Reopens the writes recorded as confirmed in `block` under another hash than `hash` (the
 * chain's block of that number now): their receipts are gone with the old block.
 */
export async function reopenOutboxInBlock(tx: Queryable, block: bigint, hash: string): Promise<number> {
  const rows = await tx.query<{ id: string }>(
    `UPDATE chain_outbox SET status = 'signed', block_number = NULL, block_hash = NULL, gas_used = NULL,
       confirmed_at = NULL, broadcast_at = NULL, last_error = NULL, reopened_at = now(), reopened = reopened + 1
     WHERE status IN ('confirmed', 'failed') AND block_number = $1 AND block_hash IS NOT NULL
       AND block_hash <> $2 AND raw_tx IS NOT NULL
     RETURNING id::text AS id`,
    [block.toString(), hash.toLowerCase()],
  );
  return rows.length;
}

/** Block numbers in `from..to` holding writes this node recorded as confirmed, with their hashes. */
export async function confirmedOutboxBlocks(
  db: Queryable,
  from: bigint,
  to: bigint,
): Promise<Array<{ block: bigint; hash: string }>> {
  const rows = await db.query<{ block_number: string; block_hash: string }>(
    `SELECT DISTINCT block_number::text AS block_number, block_hash FROM chain_outbox
     WHERE block_number BETWEEN $1 AND $2 AND block_hash IS NOT NULL`,
    [from.toString(), to.toString()],
  );
  return rows.map((r) => ({ block: BigInt(r.block_number), hash: r.block_hash }));
}
