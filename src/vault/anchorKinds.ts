/**
 * The kinds of leaves that are batched and anchored, each with the table holding them. A leaf
 * table has `seq` (global order) and `leaf bytea` (32 bytes); once batched, a leaf's batch
 * sequence, index and proof (concatenated 32-byte siblings) are its row in `anchor_proofs`.
 */
import type { AnchorKind } from '../chain/RootSource.ts';

export interface AnchorKindConfig {
  kind: AnchorKind;
  /** Used in outbox dedupe keys: `anchor:<name>:<sequence>`. */
  name: string;
  /** SQL identifier of the leaf table (never user input). */
  table: string;
}

export const RECORD_ANCHORS: AnchorKindConfig = { kind: 0, name: 'records', table: 'record_versions' };

/** A leaf's batch sequence (as text), index and proof, as read from the proof row `p` of {@link joinProofs}. */
export const PROOF_COLUMNS = 'p.batch_sequence::text AS batch_sequence, p.batch_index, p.proof';

/** Joins leaf row `alias` of `kind` to its proof row `p`; all of `p` is null while the leaf is pending. */
export function joinProofs(kind: AnchorKind, alias: string): string {
  return `LEFT JOIN anchor_proofs p ON p.kind = ${kind} AND p.seq = ${alias}.seq`;
}
