/**
 * Verifies one leaf table (record versions or audit events) against its local batches and the roots
 * anchored on chain, streaming rows in `seq` order through a cursor, in chunks:
 *
 * - every leaf recomputes from its stored columns (and, with keys, from the decrypted content);
 * - the rows of each batch are contiguous in `seq`, exactly `leaf_count` of them, at indexes
 *   0..n-1, matching `first_seq`..`last_seq`; no batched row follows an unbatched one;
 * - the Merkle tree rebuilt from the batch's leaves in seq order has the root anchored on chain, and
 *   every stored proof equals the proof read off that tree's levels (no per-leaf hashing);
 * - for audit events, `seq` runs 1, 2, 3, ... without a gap (a missing number is a deleted event);
 * - nothing is pending longer than the anchoring delay plus slack.
 *
 * The kind-specific parts (columns, leaf formula, content check) come from a {@link LeafKindAdapter}.
 */
import { bytesToHex, type Hex } from 'viem';
import { buildMerkleTreeFromBytes, type MerkleTree, verifyMerkleProof } from '../chain/merkle.ts';
import type { Queryable } from '../store/db.ts';
import { proofNodes } from '../vault/merkleInclusion.ts';
import { toBuffer } from '../vault/toBuffer.ts';
import type { AnchoredRoots } from './fetchAnchoredRoots.ts';
import type { LeafKindCounts, LeafKindName, VerifyFinding } from './VerifyReport.ts';

export interface LeafRowBase {
  seq: string;
  leaf: Uint8Array;
  batch_sequence: string | null;
  batch_index: number | null;
  proof: Uint8Array | null;
  /** When the row was written (pending-age check). */
  written_at: Date | string;
}

export interface RowCheck {
  /** Names the row in findings: `Observation/9/_history/2`, `AuditEvent/17`. */
  name: string;
  /** Check codes that failed, with a detail each. */
  failures: { check: string; detail: string }[];
  contentChecked: boolean;
  erased: boolean;
}

export interface LeafKindAdapter<Row extends LeafRowBase> {
  name: LeafKindName;
  kind: 0 | 1;
  table: string;
  /** SELECT ... FROM <table> t (the verifier appends WHERE/ORDER BY/LIMIT). */
  select: string;
  /** Whether `seq` must be gap-free from 1 (audit) or only increasing (records: rolled-back inserts leave gaps). */
  gapFreeSeq: boolean;
  check(row: Row): Promise<RowCheck>;
}

export interface LocalBatch {
  sequence: string;
  root: Uint8Array;
  leaf_count: number;
  first_seq: string;
  last_seq: string;
  created_at: Date | string;
}

export interface VerifyLeafTableParameters<Row extends LeafRowBase> {
  db: Queryable;
  adapter: LeafKindAdapter<Row>;
  chain: AnchoredRoots;
  maxPendingAgeMs: number;
  now: Date;
  chunkSize: number;
  report: (finding: VerifyFinding) => void;
  counts: LeafKindCounts;
  onRows?: (rows: number) => void;
}

interface OpenBatch {
  sequence: string;
  leaves: Buffer[];
  rows: { seq: string; name: string; index: number | null; proof: Buffer | null }[];
}

const NODE = 32;

export async function verifyLeafTable<Row extends LeafRowBase>(
  p: VerifyLeafTableParameters<Row>,
): Promise<void> {
  const { adapter, chain, counts } = p;
  const kind = adapter.name;
  const local = await p.db.query<LocalBatch>(
    `SELECT b.sequence::text AS sequence, b.root, b.leaf_count, b.first_seq::text AS first_seq,
       b.last_seq::text AS last_seq, b.created_at
     FROM anchor_batches b WHERE b.kind = $1 ORDER BY b.sequence`,
    [adapter.kind],
  );
  const batches = new Map(local.map((b) => [b.sequence, b]));
  counts.localBatches = local.length;
  counts.chainBatches = Number(chain.count);
  checkBatchSequences(p, local);

  const finalized = new Set<string>();
  let open: OpenBatch | undefined;
  let seenPending = false;
  let previousSeq = 0n;
  const staleBefore = p.now.getTime() - p.maxPendingAgeMs;

  const finalize = () => {
    if (open) finalizeBatch(p, open, batches.get(open.sequence));
    if (open) finalized.add(open.sequence);
    open = undefined;
  };

  // One cursor over the table in seq order (record_versions indexes seq only while unbatched, so
  // keyset paging would sort the table once per page). Needs the caller's transaction.
  const cursor = `verify_${adapter.table}`;
  await p.db.query(`DECLARE ${cursor} NO SCROLL CURSOR FOR ${adapter.select} ORDER BY t.seq`);
  for (;;) {
    const rows = await p.db.query<Row>(`FETCH ${Math.max(1, Math.floor(p.chunkSize))} FROM ${cursor}`);
    if (rows.length === 0) break;
    for (const row of rows) {
      const seq = BigInt(row.seq);
      const result = await adapter.check(row);
      counts.rows++;
      if (result.contentChecked) counts.contentChecked++;
      if (result.erased) counts.erased++;
      const named = { kind, row: result.name, seq: row.seq };
      for (const failure of result.failures)
        p.report({ ...named, check: failure.check, detail: failure.detail, ...batchOf(row) });
      if (adapter.gapFreeSeq && seq !== previousSeq + 1n) {
        const missing = seq - previousSeq - 1n;
        p.report({
          kind,
          check: 'seq-gap',
          seq: (previousSeq + 1n).toString(),
          row: `seq ${previousSeq + 1n}${missing > 1n ? `..${seq - 1n}` : ''}`,
          detail: `${missing} ${kind} row(s) missing before seq ${seq}: deleted`,
        });
      }
      previousSeq = seq;
      if (row.batch_sequence === null) {
        finalize();
        seenPending = true;
        counts.pending++;
        if (new Date(row.written_at).getTime() < staleBefore) {
          p.report({
            ...named,
            check: 'pending-too-long',
            detail: `not anchored since ${new Date(row.written_at).toISOString()}, longer than ${p.maxPendingAgeMs} ms`,
          });
        }
        continue;
      }
      if (seenPending) {
        p.report({
          ...named,
          check: 'batched-after-pending',
          batch: row.batch_sequence,
          detail: 'a batched row follows an unbatched one: rows were inserted or reordered',
        });
      }
      if (open && open.sequence !== row.batch_sequence) finalize();
      if (!open) {
        if (finalized.has(row.batch_sequence)) {
          p.report({
            ...named,
            check: 'batch-not-contiguous',
            batch: row.batch_sequence,
            detail: `rows of batch ${row.batch_sequence} are interleaved with rows of another batch`,
          });
        }
        open = { sequence: row.batch_sequence, leaves: [], rows: [] };
      }
      open.leaves.push(toBuffer(row.leaf));
      open.rows.push({
        seq: row.seq,
        name: result.name,
        index: row.batch_index,
        proof: row.proof === null ? null : toBuffer(row.proof),
      });
    }
    p.onRows?.(rows.length);
  }
  await p.db.query(`CLOSE ${cursor}`);
  finalize();
  for (const batch of local) {
    if (!finalized.has(batch.sequence)) {
      p.report({
        kind,
        check: 'batch-empty',
        batch: batch.sequence,
        detail: `batch ${batch.sequence} (${batch.leaf_count} leaves, seq ${batch.first_seq}..${batch.last_seq}) has no rows: deleted`,
      });
    }
  }
}

function batchOf(row: LeafRowBase): { batch?: string } {
  return row.batch_sequence === null ? {} : { batch: row.batch_sequence };
}

/** Local batches run 0..n-1; each is on chain with the same root; the chain holds no batch the DB lacks. */
function checkBatchSequences<Row extends LeafRowBase>(
  p: VerifyLeafTableParameters<Row>,
  local: LocalBatch[],
): void {
  const { adapter, chain, counts } = p;
  const kind = adapter.name;
  if (BigInt(chain.roots.size) !== chain.count) {
    p.report({
      kind,
      check: 'chain-log-mismatch',
      detail: `the chain says ${chain.count} ${kind} batches were anchored but returned ${chain.roots.size} RootAnchored events`,
    });
  }
  const staleBefore = p.now.getTime() - p.maxPendingAgeMs;
  const localSequences = new Set(local.map((b) => b.sequence));
  const last = local.length > 0 ? BigInt(local[local.length - 1]!.sequence) : -1n;
  for (let s = 0n; s <= last; s++) {
    if (!localSequences.has(s.toString())) {
      p.report({
        kind,
        check: 'batch-sequence-gap',
        batch: s.toString(),
        detail: `local ${kind} batch ${s} is missing (batches must run 0, 1, 2, ...)`,
      });
    }
  }
  for (const batch of local) {
    const anchored = chain.roots.get(BigInt(batch.sequence));
    const root = bytesToHex(toBuffer(batch.root));
    if (!anchored) {
      if (new Date(batch.created_at).getTime() < staleBefore) {
        p.report({
          kind,
          check: 'batch-not-anchored',
          batch: batch.sequence,
          detail: `batch ${batch.sequence} built ${new Date(batch.created_at).toISOString()} is not on chain`,
        });
      } else counts.pendingBatches++;
    } else if (anchored.root !== root) {
      p.report({
        kind,
        check: 'batch-root-chain',
        batch: batch.sequence,
        detail: `stored root ${root} differs from the root anchored on chain ${anchored.root} (tx ${anchored.txHash})`,
      });
    } else if (anchored.leafCount !== batch.leaf_count) {
      p.report({
        kind,
        check: 'batch-leaf-count',
        batch: batch.sequence,
        detail: `stored leaf count ${batch.leaf_count} differs from the anchored one ${anchored.leafCount}`,
      });
    }
  }
  for (const [sequence, anchored] of chain.roots) {
    if (!localSequences.has(sequence.toString())) {
      p.report({
        kind,
        check: 'batch-missing-locally',
        batch: sequence.toString(),
        detail: `the chain holds ${kind} batch ${sequence} (${anchored.leafCount} leaves, tx ${anchored.txHash}, block ${anchored.blockNumber}) that the database lacks: dropped batch or database rolled back`,
      });
    }
  }
}

function finalizeBatch<Row extends LeafRowBase>(
  p: VerifyLeafTableParameters<Row>,
  open: OpenBatch,
  batch: LocalBatch | undefined,
): void {
  const kind = p.adapter.name;
  const anchored = p.chain.roots.get(BigInt(open.sequence));
  const report = (check: string, detail: string, row?: OpenBatch['rows'][number]) =>
    p.report({ kind, check, batch: open.sequence, detail, ...(row ? { row: row.name, seq: row.seq } : {}) });
  if (!batch) {
    report(
      'batch-unknown',
      `${open.rows.length} rows name batch ${open.sequence}, which is not in anchor_batches`,
    );
    return;
  }
  if (anchored) p.counts.anchored += open.rows.length;
  if (open.rows.length !== batch.leaf_count)
    report('batch-leaf-count', `batch has ${open.rows.length} rows, ${batch.leaf_count} recorded`);
  const first = open.rows[0]!;
  const last = open.rows[open.rows.length - 1]!;
  if (first.seq !== batch.first_seq || last.seq !== batch.last_seq)
    report(
      'batch-range',
      `rows span seq ${first.seq}..${last.seq}, batch records ${batch.first_seq}..${batch.last_seq}`,
    );
  const tree = buildMerkleTreeFromBytes(open.leaves);
  const truth = anchored?.root ?? bytesToHex(toBuffer(batch.root));
  const treeHolds = tree.root === truth;
  if (!treeHolds) {
    report(
      anchored ? 'batch-leaves-mismatch' : 'batch-root-local',
      `the ${open.rows.length} leaves in seq order hash to ${tree.root}, not to the ${anchored ? 'anchored' : 'stored'} root ${truth}: rows changed, inserted, deleted or reordered`,
    );
  }
  open.rows.forEach((row, i) => {
    if (row.index !== i) report('batch-index', `stored batch index ${row.index}, position ${i}`, row);
    if (treeHolds) {
      if (!row.proof || !proofMatchesTree(tree, i, row.proof))
        report('proof', 'stored proof differs from the tree', row);
    } else {
      // The batch is wrong: name the rows whose own proof does not reach the trusted root.
      const leaf = `0x${open.leaves[i]!.toString('hex')}` as Hex;
      const proof = row.proof ? proofNodes(row.proof) : [];
      if (!row.proof || !verifyMerkleProof(truth, leaf, proof))
        report('not-in-anchored-batch', `leaf is not provably in batch ${open.sequence}`, row);
    }
  });
}

/** Compares a stored proof with the siblings read off the tree's levels. */
function proofMatchesTree(tree: MerkleTree, index: number, proof: Buffer): boolean {
  let i = index;
  let offset = 0;
  for (let l = 0; l < tree.levels.length - 1; l++) {
    const level = tree.levels[l]!;
    const sibling = i ^ 1;
    if (sibling * NODE < level.length) {
      if (offset + NODE > proof.length) return false;
      if (
        Buffer.compare(
          proof.subarray(offset, offset + NODE),
          level.subarray(sibling * NODE, (sibling + 1) * NODE),
        ) !== 0
      )
        return false;
      offset += NODE;
    }
    i >>= 1;
  }
  return offset === proof.length;
}
