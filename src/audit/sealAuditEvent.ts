/**
 * Envelope encryption of one audit event, like a record version (src/crypto/sealRecord.ts): a fresh
 * 256-bit data key, IV and salt per event; AES-256-GCM over `salt ‖ canonicalJSON`; the data key
 * wrapped by the KEK. Associated data binds the event's `seq`.
 */
import { randomBytes } from 'node:crypto';
import { AES_KEY_BYTES, aesGcmDecrypt, aesGcmEncrypt, GCM_IV_BYTES } from '../crypto/aesGcm.ts';
import { DecryptionError } from '../crypto/DecryptionError.ts';
import type { KeyEncryptionKey } from '../crypto/KeyEncryptionKey.ts';
import { ciphertextHash, contentCommitment } from '../crypto/recordLeaf.ts';
import { SALT_BYTES } from '../crypto/sealRecord.ts';
import { auditContentAad, auditDataKeyAad, auditLeaf } from './auditLeaf.ts';

export interface SealedAuditEvent {
  /** AES-GCM ciphertext with its 16-byte tag appended. */
  ciphertext: Buffer;
  iv: Buffer;
  wrappedKey: Uint8Array;
  kekId: string;
  contentCommitment: Buffer;
  ciphertextHash: Buffer;
  leaf: Buffer;
}

/** Seals the canonical JSON bytes of an event as number `seq`. */
export async function sealAuditEvent(
  seq: bigint,
  canonicalJson: Uint8Array,
  kek: KeyEncryptionKey,
): Promise<SealedAuditEvent> {
  const random = randomBytes(AES_KEY_BYTES + GCM_IV_BYTES + SALT_BYTES);
  const dataKey = random.subarray(0, AES_KEY_BYTES);
  const iv = Buffer.from(random.subarray(AES_KEY_BYTES, AES_KEY_BYTES + GCM_IV_BYTES));
  const salt = random.subarray(AES_KEY_BYTES + GCM_IV_BYTES);
  const ciphertext = aesGcmEncrypt(dataKey, iv, Buffer.concat([salt, canonicalJson]), auditContentAad(seq));
  const wrappedKey = await kek.wrap(dataKey, auditDataKeyAad(seq));
  random.fill(0, 0, AES_KEY_BYTES);
  const commitment = contentCommitment(salt, canonicalJson);
  const cipherHash = ciphertextHash(iv, ciphertext);
  return {
    ciphertext,
    iv,
    wrappedKey,
    kekId: kek.id,
    contentCommitment: commitment,
    ciphertextHash: cipherHash,
    leaf: auditLeaf(seq, commitment, cipherHash),
  };
}

export interface OpenedAuditEvent {
  salt: Buffer;
  canonicalJson: Buffer;
}

/** Unwraps and decrypts; every failure is the one generic {@link DecryptionError}. */
export async function openAuditEvent(
  seq: bigint,
  sealed: { ciphertext: Uint8Array; iv: Uint8Array; wrappedKey: Uint8Array },
  kek: KeyEncryptionKey,
): Promise<OpenedAuditEvent> {
  const dataKey = await kek.unwrap(sealed.wrappedKey, auditDataKeyAad(seq));
  const plaintext = aesGcmDecrypt(dataKey, sealed.iv, sealed.ciphertext, auditContentAad(seq));
  dataKey.fill(0);
  if (plaintext.length < SALT_BYTES) throw new DecryptionError();
  return { salt: plaintext.subarray(0, SALT_BYTES), canonicalJson: plaintext.subarray(SALT_BYTES) };
}
