import { joinProofs, PROOF_COLUMNS } from '../vault/anchorKinds.ts';

/** The columns an audit read selects, with the batch root, and the statement prefix that selects them. */
export interface StoredAuditEventRow {
  seq: string;
  recorded: Date | string;
  action: string;
  outcome: number;
  patient_index: Uint8Array | null;
  /** Agent blind indexes, hex, comma-separated, in stored order (null when none). */
  agent_hex: string | null;
  /** The other patients' blind index values (hex, comma-separated), or null. */
  patients_hex: string | null;
  /** `iv ‖ ciphertext ‖ tag`: its sha256 is the ciphertext hash in the leaf. */
  ciphertext: Uint8Array;
  wrapped_key: Uint8Array;
  kek_id: string;
  content_commitment: Uint8Array;
  leaf: Uint8Array;
  batch_sequence: string | null;
  batch_index: number | null;
  proof: Uint8Array | null;
  batch_root: Uint8Array | null;
}

export const SELECT_AUDIT_EVENTS = `
SELECT e.seq::text AS seq, e.recorded, e.action, e.outcome, e.patient_index,
  (SELECT string_agg(encode(p, 'hex'), ',') FROM unnest(e.patient_indexes) AS p) AS patients_hex,
  (SELECT string_agg(encode(a, 'hex'), ',') FROM unnest(e.agent_index) AS a) AS agent_hex, e.ciphertext,
  e.wrapped_key, e.kek_id, e.content_commitment, e.leaf, ${PROOF_COLUMNS},
  (SELECT b.root FROM anchor_batches b WHERE b.kind = 1 AND b.sequence = p.batch_sequence) AS batch_root
FROM audit_events e ${joinProofs(1, 'e')}`;
