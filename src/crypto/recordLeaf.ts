/**
 * Commitments of one record version and its Merkle leaf.
 *
 *   contentCommitment = sha256(salt ‖ canonicalJSON)
 *   ciphertextHash    = sha256(iv ‖ ciphertext ‖ tag)
 *   leaf              = sha256('medledger.record.v1' ‖ sha256(type '/' id '/' versionId) ‖ contentCommitment ‖ ciphertextHash)
 *
 * Wrapped data keys are not part of the leaf, so re-wrapping under a new KEK changes no leaf.
 */
import { createHash, hash } from 'node:crypto';

export interface RecordVersionId {
  resourceType: string;
  id: string;
  versionId: number;
}

const LEAF_DOMAIN = Buffer.from('medledger.record.v1', 'utf8');
/** Up to this many bytes, parts are joined and hashed in one call. */
const SHORT_INPUT = 1024;

export function sha256(...parts: Uint8Array[]): Buffer {
  if (parts.length === 1) return hash('sha256', parts[0]!, 'buffer');
  // Two adjacent views of one buffer (salt ‖ JSON inside a decrypted plaintext, iv ‖ ciphertext of
  // a stored row) hash as one view; short inputs are joined: both cheaper than a streaming hash.
  const joined = parts.length === 2 ? adjacent(parts[0]!, parts[1]!) : undefined;
  if (joined) return hash('sha256', joined, 'buffer');
  let total = 0;
  for (const part of parts) total += part.length;
  if (total <= SHORT_INPUT) return hash('sha256', Buffer.concat(parts, total), 'buffer');
  const streaming = createHash('sha256');
  for (const part of parts) streaming.update(part);
  return streaming.digest();
}

/** `a ‖ b` as one view when `b` starts where `a` ends in the same memory, else undefined. */
function adjacent(a: Uint8Array, b: Uint8Array): Uint8Array | undefined {
  if (a.buffer !== b.buffer || a.byteOffset + a.length !== b.byteOffset) return undefined;
  return new Uint8Array(a.buffer, a.byteOffset, a.length + b.length);
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
