/**
 * Envelope encryption of one record version: a fresh 256-bit data key and 96-bit IV per version,
 * AES-256-GCM over `salt ‖ canonicalJSON` (the 32-byte salt lives only inside the ciphertext, so
 * destroying the data key also destroys the salt), the data key wrapped by the current KEK.
 * Associated data binds type, id, version and the deleted flag, so ciphertexts cannot be moved
 * between rows or a tombstone passed off as content.
 */
import { randomBytes } from 'node:crypto';
import { AES_KEY_BYTES, aesGcmDecrypt, aesGcmEncrypt, GCM_IV_BYTES } from './aesGcm.ts';
import { canonicalJsonBytes } from './canonicalJson.ts';
import { DecryptionError } from './DecryptionError.ts';
import type { KeyEncryptionKey } from './KeyEncryptionKey.ts';
import { ciphertextHash, contentCommitment, type RecordVersionId, recordLeaf } from './recordLeaf.ts';

export const SALT_BYTES = 32;

export interface SealedVersionId extends RecordVersionId {
  deleted: boolean;
}

export interface SealedRecord {
  /** AES-GCM ciphertext with its 16-byte tag appended. */
  ciphertext: Buffer;
  iv: Buffer;
  wrappedKey: Uint8Array;
  kekId: string;
  contentCommitment: Buffer;
  ciphertextHash: Buffer;
  leaf: Buffer;
}

/** Associated data of the content ciphertext. */
export function contentAad(version: SealedVersionId): Buffer {
  const state = version.deleted ? 'deleted' : 'present';
  return Buffer.from(
    `medledger.record.v1\n${version.resourceType}\n${version.id}\n${version.versionId}\n${state}`,
  );
}

/** Associated data of the wrapped data key (re-wrapping during rotation reproduces it from the row). */
export function dataKeyAad(version: RecordVersionId): Buffer {
  return Buffer.from(`medledger.dek.v1\n${version.resourceType}\n${version.id}\n${version.versionId}`);
}

export async function sealRecord(
  version: SealedVersionId,
  resource: unknown,
  kek: KeyEncryptionKey,
): Promise<SealedRecord> {
  const json = canonicalJsonBytes(resource);
  const random = randomBytes(AES_KEY_BYTES + GCM_IV_BYTES + SALT_BYTES);
  const dataKey = random.subarray(0, AES_KEY_BYTES);
  const iv = Buffer.from(random.subarray(AES_KEY_BYTES, AES_KEY_BYTES + GCM_IV_BYTES));
  const salt = random.subarray(AES_KEY_BYTES + GCM_IV_BYTES);
  const ciphertext = aesGcmEncrypt(dataKey, iv, Buffer.concat([salt, json]), contentAad(version));
  const wrappedKey = await kek.wrap(dataKey, dataKeyAad(version));
  random.fill(0, 0, AES_KEY_BYTES);
  const commitment = contentCommitment(salt, json);
  const cipherHash = ciphertextHash(iv, ciphertext);
  return {
    ciphertext,
    iv,
    wrappedKey,
    kekId: kek.id,
    contentCommitment: commitment,
    ciphertextHash: cipherHash,
    leaf: recordLeaf(version, commitment, cipherHash),
  };
}

export interface OpenedRecord {
  salt: Buffer;
  /** The canonical JSON bytes exactly as committed. */
  canonicalJson: Buffer;
}

/** Unwraps the data key and decrypts; every failure is the one generic {@link DecryptionError}. */
export async function openRecord(
  version: SealedVersionId,
  sealed: { ciphertext: Uint8Array; iv: Uint8Array; wrappedKey: Uint8Array },
  kek: KeyEncryptionKey,
): Promise<OpenedRecord> {
  const dataKey = await kek.unwrap(sealed.wrappedKey, dataKeyAad(version));
  const plaintext = aesGcmDecrypt(dataKey, sealed.iv, sealed.ciphertext, contentAad(version));
  dataKey.fill(0);
  if (plaintext.length < SALT_BYTES) throw new DecryptionError();
  return { salt: plaintext.subarray(0, SALT_BYTES), canonicalJson: plaintext.subarray(SALT_BYTES) };
}
