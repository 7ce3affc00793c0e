/**
 * Commitments of one audit event and its Merkle leaf (docs/audit.md):
 *
 *   contentCommitment = sha256(salt ‖ canonicalJSON(AuditEvent))
 *   ciphertextHash    = sha256(iv ‖ ciphertext ‖ tag)
 *   leaf              = sha256('medledger.audit.v1' ‖ uint64be(seq) ‖ contentCommitment ‖ ciphertextHash)
 *
 * The leaf binds `seq` on purpose: the anchored tree hashes sorted pairs (OpenZeppelin), so it does
 * not commit to positions by itself; with the seq inside every leaf, swapping two events changes
 * both leaves. A patient recomputes all of this from an access report with sha256 alone.
 */
import { sha256 } from '../crypto/recordLeaf.ts';

export const AUDIT_LEAF_DOMAIN = 'medledger.audit.v1';
const DOMAIN = Buffer.from(AUDIT_LEAF_DOMAIN, 'utf8');

/** The 8-byte big-endian encoding of an event's sequence number. */
export function seqBytes(seq: bigint): Buffer {
  const bytes = Buffer.alloc(8);
  bytes.writeBigUInt64BE(seq);
  return bytes;
}

export function auditLeaf(seq: bigint, commitment: Uint8Array, cipherHash: Uint8Array): Buffer {
  return sha256(DOMAIN, seqBytes(seq), commitment, cipherHash);
}

/** Associated data of the event ciphertext: the sequence number, so rows cannot trade places. */
export function auditContentAad(seq: bigint): Buffer {
  return Buffer.from(`medledger.audit.v1\n${seq}`);
}

/** Associated data of the event's wrapped data key. */
export function auditDataKeyAad(seq: bigint): Buffer {
  return Buffer.from(`medledger.audit-dek.v1\n${seq}`);
}
