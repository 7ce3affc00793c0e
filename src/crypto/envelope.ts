/**
 * Envelope encryption of one canonical JSON document (a record version, an audit event):
 * AES-256-GCM under a fresh data key and IV over `salt ‖ canonical JSON`, the data key
 * wrapped by the key-encryption key, and the salted content commitment and ciphertext hash
 * that the caller's Merkle leaf is made of. The associated data binds each ciphertext and
 * wrapped key to its row, so they cannot be swapped. The salt lives only inside the
 * ciphertext: destroying the data key also destroys the salt (crypto-shredding).
 */
import { AES_KEY_BYTES, aesGcmDecrypt, aesGcmEncrypt, GCM_IV_BYTES } from './aesGcm.ts';
import { DecryptionError } from './DecryptionError.ts';
import type { KeyEncryptionKey } from './KeyEncryptionKey.ts';
import { ciphertextHash, contentCommitment } from './recordLeaf.ts';
import { secureRandom } from './secureRandom.ts';

export const SALT_BYTES = 32;

export interface EnvelopeAad {
  /** Associated data of the content ciphertext. */
  content: Uint8Array;
  /** Associated data of the wrapped data key (rotation reproduces it from the row). */
  dataKey: Uint8Array;
}

export interface SealedEnvelope {
  ciphertext: Buffer;
  iv: Buffer;
  wrappedKey: Uint8Array;
  kekId: string;
  contentCommitment: Buffer;
  ciphertextHash: Buffer;
}

export interface OpenedEnvelope {
  salt: Buffer;
  /** The canonical JSON bytes exactly as committed. */
  canonicalJson: Buffer;
}

export async function sealEnvelope(
  canonicalJson: Uint8Array,
  aad: EnvelopeAad,
  kek: KeyEncryptionKey,
): Promise<SealedEnvelope> {
  const random = secureRandom(AES_KEY_BYTES + GCM_IV_BYTES + SALT_BYTES);
  const dataKey = random.subarray(0, AES_KEY_BYTES);
  const iv = Buffer.from(random.subarray(AES_KEY_BYTES, AES_KEY_BYTES + GCM_IV_BYTES));
  const salt = random.subarray(AES_KEY_BYTES + GCM_IV_BYTES);
  const ciphertext = aesGcmEncrypt(dataKey, iv, Buffer.concat([salt, canonicalJson]), aad.content);
  const wrappedKey = await kek.wrap(dataKey, aad.dataKey);
  random.fill(0, 0, AES_KEY_BYTES);
  return {
    ciphertext,
    iv,
    wrappedKey,
    kekId: kek.id,
    contentCommitment: contentCommitment(salt, canonicalJson),
    ciphertextHash: ciphertextHash(iv, ciphertext),
  };
}

/** Unwraps the data key and decrypts; every failure is the one generic {@link DecryptionError}. */
export async function openEnvelope(
  sealed: { ciphertext: Uint8Array; iv: Uint8Array; wrappedKey: Uint8Array },
  aad: EnvelopeAad,
  kek: KeyEncryptionKey,
): Promise<OpenedEnvelope> {
  const dataKey = await kek.unwrap(sealed.wrappedKey, aad.dataKey);
  const plaintext = aesGcmDecrypt(dataKey, sealed.iv, sealed.ciphertext, aad.content);
  dataKey.fill(0);
  if (plaintext.length < SALT_BYTES) throw new DecryptionError();
  return { salt: plaintext.subarray(0, SALT_BYTES), canonicalJson: plaintext.subarray(SALT_BYTES) };
}
