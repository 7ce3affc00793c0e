/**
 * The inclusion proof of one leaf (record version or audit event) and where its batch root was
 * anchored: the transaction from the indexer's `RootAnchored` cache, else from the outbox. The
 * proof is checked against the stored root before it is handed out.
 */
import { bytesToHex, type Hex } from 'viem';
import { verifyMerkleProof } from '../chain/merkle.ts';
import type { Queryable } from '../store/db.ts';
import { IntegrityError } from '../vault/errors.ts';
import { toBuffer } from '../vault/toBuffer.ts';
import type { AnchorProof } from './AnchorProofShape.ts';
import type { AnchoringInfo } from './AuditContext.ts';
import { splitProof } from './verifyAuditEventRow.ts';

export type { AnchorProof } from './AnchorProofShape.ts';

export interface LeafRow {
  leaf: Uint8Array;
  batch_sequence: string | null;
  batch_index: number | null;
  proof: Uint8Array | null;
}

export async function anchorProof(
  db: Queryable,
  anchoring: AnchoringInfo,
  subject: string,
  kind: 0 | 1,
  row: LeafRow,
  /** Batch lookups already made (one query per batch when proving many leaves). */
  cache: Map<string, Promise<BatchAnchorRow | undefined>> = new Map(),
): Promise<AnchorProof> {
  const base = {
    subject,
    kind,
    leaf: bytesToHex(toBuffer(row.leaf)),
    chainId: anchoring.chainId,
    anchors: anchoring.anchors,
    member: anchoring.member,
  };
  if (row.batch_sequence === null || row.batch_index === null || row.proof === null)
    return { ...base, status: 'unbatched', pending: true };
  const key = `${kind}:${row.batch_sequence}`;
  let lookup = cache.get(key);
  if (!lookup) {
    lookup = batchAnchorRow(db, anchoring, kind, row.batch_sequence);
    cache.set(key, lookup);
  }
  const batch = await lookup;
  if (!batch) throw new IntegrityError(new Error(`${subject}: batch ${row.batch_sequence} missing`));
  const root = bytesToHex(toBuffer(batch.root));
  const proof = splitProof(toBuffer(row.proof));
  if (!verifyMerkleProof(root, base.leaf, proof)) throw new IntegrityError(new Error(`${subject}: proof`));
  const batched = { ...base, batchSequence: row.batch_sequence, batchIndex: row.batch_index, proof, root };
  if (batch.indexed_tx && batch.indexed_root) {
    if (batch.indexed_root.toLowerCase() !== root)
      throw new IntegrityError(new Error(`${subject}: anchored root`));
    return {
      ...batched,
      status: 'anchored',
      pending: false,
      txHash: batch.indexed_tx as Hex,
      ...(batch.indexed_block === null ? {} : { blockNumber: batch.indexed_block }),
    };
  }
  if (batch.outbox_status === 'confirmed' && batch.outbox_tx) {
    return {
      ...batched,
      status: 'anchored',
      pending: false,
      txHash: batch.outbox_tx as Hex,
      ...(batch.outbox_block === null ? {} : { blockNumber: batch.outbox_block }),
    };
  }
  return { ...batched, status: 'batched', pending: true };
}

/** The proof as a FHIR Parameters resource (`$proof` operations). */
export function proofParameters(proof: AnchorProof): Record<string, unknown> {
  const parameter: Record<string, unknown>[] = [
    { name: 'subject', valueReference: { reference: proof.subject } },
    { name: 'kind', valueInteger: proof.kind },
    { name: 'leaf', valueString: proof.leaf },
    { name: 'status', valueCode: proof.status },
    { name: 'pending', valueBoolean: proof.pending },
  ];
  if (proof.batchSequence !== undefined)
    parameter.push({ name: 'batchSequence', valueString: proof.batchSequence });
  if (proof.batchIndex !== undefined) parameter.push({ name: 'batchIndex', valueInteger: proof.batchIndex });
  if (proof.root !== undefined) parameter.push({ name: 'root', valueString: proof.root });
  for (const node of proof.proof ?? []) parameter.push({ name: 'proof', valueString: node });
  if (proof.txHash !== undefined) parameter.push({ name: 'txHash', valueString: proof.txHash });
  if (proof.blockNumber !== undefined)
    parameter.push({ name: 'blockNumber', valueString: proof.blockNumber });
  parameter.push(
    { name: 'chainId', valueInteger: proof.chainId },
    { name: 'anchors', valueString: proof.anchors },
    { name: 'member', valueString: proof.member },
  );
  return { resourceType: 'Parameters', parameter };
}

export interface BatchAnchorRow {
  root: Uint8Array;
  indexed_tx: string | null;
  indexed_block: string | null;
  indexed_root: string | null;
  outbox_tx: string | null;
  outbox_block: string | null;
  outbox_status: string | null;
}

async function batchAnchorRow(
  db: Queryable,
  anchoring: AnchoringInfo,
  kind: 0 | 1,
  sequence: string,
): Promise<BatchAnchorRow | undefined> {
  const rows = await db.query<BatchAnchorRow>(
    `SELECT b.root, r.tx_hash AS indexed_tx, r.block_number::text AS indexed_block, r.root AS indexed_root,
       o.tx_hash AS outbox_tx, o.block_number::text AS outbox_block, o.status AS outbox_status
     FROM anchor_batches b
     LEFT JOIN chain_anchored_roots r ON r.member = $1 AND r.kind = b.kind AND r.sequence = b.sequence
     LEFT JOIN chain_outbox o ON o.id = b.outbox_id
     WHERE b.kind = $2 AND b.sequence = $3::bigint`,
    [anchoring.member.toLowerCase(), kind, sequence],
  );
  return rows[0];
}
