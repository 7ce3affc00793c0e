/**
 * Commitments of one record version and its Merkle leaf.
 *
 *   contentCommitment = sha256(salt ‖ canonicalJSON)
 *   ciphertextHash    = sha256(iv ‖ ciphertext ‖ tag)
 *   leaf              = sha256('medledger.record.v1' ‖ sha256(type '/' id '/' versionId) ‖ contentCommitment ‖ ciphertextHash)
 *
 * Wrapped data keys are not part of the leaf, so re-wrapping under a new KEK changes no leaf.
 */
import { createHash } from 'node:crypto';

export interface RecordVersionId {
  resourceType: string;
  id: string;
  versionId: number;
}

const LEAF_DOMAIN = Buffer.from('medledger.record.v1', 'utf8');

export function sha256(...parts: Uint8Array[]): Buffer {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return hash.digest();
}

export function contentCommitment(salt: Uint8Array, canonicalJson: Uint8Array): Buffer {
  return sha256(salt, canonicalJson);
}

/** `sealed` is ciphertext with its GCM tag appended. */
export function ciphertextHash(iv: Uint8Array, sealed: Uint8Array): Buffer {
  return sha256(iv, sealed);
}

export function recordLeaf(version: RecordVersionId, commitment: Uint8Array, cipherHash: Uint8Array): Buffer {
  const identity = sha256(Buffer.from(`${version.resourceType}/${version.id}/${version.versionId}`, 'utf8'));
  return sha256(LEAF_DOMAIN, identity, commitment, cipherHash);
}
