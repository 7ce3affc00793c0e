/** Reading an outbox entry's state, and waiting for it to be final (confirmed or failed). */
import type { Queryable } from '../../store/db.ts';

export interface OutboxEntryState {
  id: bigint;
  status: 'pending' | 'signed' | 'confirmed' | 'failed';
  txHash: string | null;
  blockNumber: bigint | null;
  gasUsed: bigint | null;
  error: string | null;
}

export async function readOutboxEntry(db: Queryable, id: bigint): Promise<OutboxEntryState | undefined> {
  const rows = await db.query<{
    status: OutboxEntryState['status'];
    tx_hash: string | null;
    block_number: string | null;
    gas_used: string | null;
    last_error: string | null;
  }>(
    `SELECT status, tx_hash, block_number::text AS block_number, gas_used::text AS gas_used, last_error
     FROM chain_outbox WHERE id = $1`,
    [id.toString()],
  );
  const row = rows[0];
  if (!row) return undefined;
  return {
    id,
    status: row.status,
    txHash: row.tx_hash,
    blockNumber: row.block_number === null ? null : BigInt(row.block_number),
    gasUsed: row.gas_used === null ? null : BigInt(row.gas_used),
    error: row.last_error,
  };
}

/** The entry once final (confirmed or failed) within `timeoutMs`; undefined when still open then. */
export async function settledOutboxEntry(
  db: Queryable,
  id: bigint,
  timeoutMs: number,
): Promise<OutboxEntryState | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const state = await readOutboxEntry(db, id);
    if (!state) throw new Error(`no outbox entry ${id}`);
    if (state.status === 'confirmed' || state.status === 'failed') return state;
    if (Date.now() > deadline) return undefined;
    await new Promise((r) => setTimeout(r, 25));
  }
}

export async function waitForOutboxEntry(
  db: Queryable,
  id: bigint,
  timeoutMs = 30_000,
): Promise<OutboxEntryState> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const state = await readOutboxEntry(db, id);
    if (!state) throw new Error(`no outbox entry ${id}`);
    if (state.status === 'confirmed' || state.status === 'failed') return state;
    if (Date.now() > deadline)
      throw new Error(`outbox entry ${id} still ${state.status} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
