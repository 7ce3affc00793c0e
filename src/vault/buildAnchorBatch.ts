/**
 * Builds the next anchor batch of one kind, in one transaction: takes pending leaves in global
 * `seq` order, computes the Merkle tree, inserts the batch with the next contiguous sequence,
 * stores each leaf's batch sequence, index and proof in `anchor_proofs` (the leaf rows are written
 * once and never updated), and enqueues the chain write in the outbox.
 * A transaction-scoped advisory lock per kind keeps two node processes from building the same batch
 * and, for records, waits out every writer still holding an uncommitted `seq` ({@link RECORD_BATCH_LOCK}).
 */
import { type Hex, hexToBytes } from 'viem';
import { buildMerkleTreeFromBytes, merkleProofBytes } from '../chain/merkle.ts';
import { enqueueChainWrite } from '../chain/outbox/enqueueChainWrite.ts';
import type { AnchorKind } from '../chain/RootSource.ts';
import { type Db, statement } from '../store/db.ts';
import { PackedBytes } from '../store/packedBytes.ts';
import { type AnchorKindConfig, RECORD_ANCHORS } from './anchorKinds.ts';
import { toBuffer } from './toBuffer.ts';

export interface BuildAnchorBatchOptions {
  /** Most leaves in one batch. */
  maxLeaves: number;
  /** Build nothing unless at least this many leaves are pending (1 = any; maxLeaves = full batches only). */
  minLeaves?: number;
}

export interface AnchorBatch {
  kind: number;
  sequence: bigint;
  leafCount: number;
  root: Hex;
  outboxId: bigint | undefined;
}

const LOCK_CLASS = 7316101;

/**
 * The record kind's batch lock. Record writers hold it SHARED from drawing `seq` to commit (see
 * writeRecordVersion); the builder takes it EXCLUSIVE, so the pending rows it reads are final:
 * no transaction still holds a smaller, uncommitted `seq`. Audit events need no such lock: their
 * writer draws seq under its own exclusive lock and commits before releasing it.
 */
export const RECORD_BATCH_LOCK = { lockClass: LOCK_CLASS, key: RECORD_ANCHORS.kind } as const;
const IDENTIFIER = /^[a-z_][a-z0-9_]*$/;

/**
 * One `anchor_proofs` row per leaf of the batch: its seq (`$2`), index (its position in `$2`) and
 * proof (a slice of `$3`). The leaf rows themselves are not touched.
 */
const INSERT_PROOFS = statement(`INSERT INTO anchor_proofs (kind, seq, batch_sequence, batch_index, proof)
SELECT $6::smallint, u.seq, $1::bigint, u.idx::int - 1, substring($3::bytea FROM u.off + 1 FOR u.len)
FROM unnest($2::bigint[], $4::int[], $5::int[]) WITH ORDINALITY AS u(seq, off, len, idx)`);

/**
 * SQL for the `seq` after which a kind's leaves are pending: the last batch's `last_seq` (0 before
 * any batch). Batches are contiguous runs of `seq` (see {@link RECORD_BATCH_LOCK}), so every leaf
 * at or below it is in a batch.
 */
export function lastBatchedSeq(kind: AnchorKind): string {
  if (kind !== 0 && kind !== 1) throw new RangeError(`not an anchor kind: ${String(kind)}`);
  return `COALESCE((SELECT b.last_seq FROM anchor_batches b WHERE b.kind = ${kind} ORDER BY b.sequence DESC LIMIT 1), 0)`;
}

export async function buildAnchorBatch(
  db: Db,
  kind: AnchorKindConfig,
  options: BuildAnchorBatchOptions,
): Promise<AnchorBatch | undefined> {
  if (!IDENTIFIER.test(kind.table)) throw new RangeError(`not a table name: ${kind.table}`);
  const minLeaves = Math.max(1, Math.min(options.minLeaves ?? 1, options.maxLeaves));
  return db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1::int, $2::int)', [LOCK_CLASS, kind.kind]);
    const pending = await tx.query<{ seq: string; leaf: Uint8Array }>(
      `SELECT t.seq::text AS seq, t.leaf FROM ${kind.table} t
       WHERE t.seq > ${lastBatchedSeq(kind.kind)} ORDER BY t.seq LIMIT $1`,
      [options.maxLeaves],
    );
    if (pending.length < minLeaves) return undefined;
    const [next] = await tx.query<{ sequence: string }>(
      'SELECT (COALESCE(MAX(sequence), -1) + 1)::text AS sequence FROM anchor_batches WHERE kind = $1',
      [kind.kind],
    );
    const sequence = BigInt(next?.sequence ?? '0');
    const leaves = pending.map((row) => toBuffer(row.leaf));
    const tree = buildMerkleTreeFromBytes(leaves);
    const outboxId = await enqueueChainWrite(tx, {
      dedupeKey: `anchor:${kind.name}:${sequence}`,
      contract: 'anchors',
      functionName: 'anchor',
      args: [kind.kind, sequence.toString(), leaves.length, tree.root],
    });
    await tx.query(
      `INSERT INTO anchor_batches (kind, sequence, root, leaf_count, first_seq, last_seq, outbox_id)
       VALUES ($1, $2::bigint, $3, $4, $5::bigint, $6::bigint, $7::bigint)`,
      [
        kind.kind,
        sequence.toString(),
        hexToBytes(tree.root),
        leaves.length,
        pending[0]!.seq,
        pending[pending.length - 1]!.seq,
        outboxId === undefined ? null : outboxId.toString(),
      ],
    );
    // Every proof back to back in ONE bytea, cut apart by offset and length (no hex text).
    const proofs = new PackedBytes();
    const lengths: number[] = [];
    for (let index = 0; index < leaves.length; index++) {
      const proof = merkleProofBytes(tree, index);
      proofs.add(proof);
      lengths.push(proof.length);
    }
    await tx.query(INSERT_PROOFS, [
      sequence.toString(),
      pending.map((row) => row.seq),
      proofs.bytes(),
      proofs.offsets,
      lengths,
      kind.kind,
    ]);
    return { kind: kind.kind, sequence, leafCount: leaves.length, root: tree.root, outboxId };
  });
}
