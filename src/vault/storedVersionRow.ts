import { statement } from '../store/statement.ts';
import { joinProofs, PROOF_COLUMNS } from './anchorKinds.ts';

/** The columns a read selects, and the statement prefix that selects them with the batch root. */
export interface StoredVersionRow {
  version_id: number;
  deleted: boolean;
  /** `iv ‖ ciphertext ‖ tag`. */
  ciphertext: Uint8Array;
  wrapped_key: Uint8Array | null;
  kek_id: string;
  content_commitment: Uint8Array;
  leaf: Uint8Array;
  batch_sequence: string | null;
  batch_index: number | null;
  proof: Uint8Array | null;
  erased: boolean;
  batch_root: Uint8Array | null;
}

// The batch root by a scalar subquery, which plans cheaper than a second join (measurably so on PGlite);
// few columns, no casts we don't need.
export const SELECT_VERSIONS = `
SELECT v.version_id, v.deleted, v.ciphertext, v.wrapped_key, v.kek_id, v.content_commitment, v.leaf, ${PROOF_COLUMNS}, v.erased_at IS NOT NULL AS erased,
  (SELECT b.root FROM anchor_batches b WHERE b.kind = 0 AND b.sequence = p.batch_sequence) AS batch_root
FROM record_versions v ${joinProofs(0, 'v')}
WHERE v.resource_type = $1 AND v.resource_id = $2`;

/**
 * The current (newest) version of each of several ids of one type, in one statement: `$1` the
 * type, `$2` a text[] of ids. Each row carries its `resource_id`.
 */
export const SELECT_CURRENT_MANY = statement(`
SELECT DISTINCT ON (v.resource_id) v.resource_id, v.version_id, v.deleted, v.ciphertext, v.wrapped_key, v.kek_id, v.content_commitment, v.leaf, ${PROOF_COLUMNS}, v.erased_at IS NOT NULL AS erased,
  (SELECT b.root FROM anchor_batches b WHERE b.kind = 0 AND b.sequence = p.batch_sequence) AS batch_root
FROM record_versions v ${joinProofs(0, 'v')}
WHERE v.resource_type = $1 AND v.resource_id = ANY($2::text[])
ORDER BY v.resource_id, v.version_id DESC`);

/** The current version of `$1/$2` (deleted and erased ones too: the caller says why not served). */
export const SELECT_CURRENT = statement(`${SELECT_VERSIONS} ORDER BY v.version_id DESC LIMIT 1`);
/** Version `$3` of `$1/$2`. */
export const SELECT_ONE_VERSION = statement(`${SELECT_VERSIONS} AND v.version_id = $3`);
/** Every version of `$1/$2`, newest first. */
export const SELECT_HISTORY = statement(`${SELECT_VERSIONS} ORDER BY v.version_id DESC`);
