/**
 * AES-256-GCM with node:crypto. Output is `ciphertext ‖ tag` (16-byte tag); any failure to
 * open is the one generic {@link DecryptionError}.
 * @see https://nvlpubs.nist.gov/nistpubs/Legacy/SP/nistspecialpublication800-38d.pdf
 */
import { createCipheriv, createDecipheriv, type KeyObject } from 'node:crypto';
import { DecryptionError } from './DecryptionError.ts';

export const AES_KEY_BYTES = 32;
export const GCM_IV_BYTES = 12;
export const GCM_TAG_BYTES = 16;

/**
 * A key as raw bytes, or as a KeyObject made once with `createSecretKey` (long-lived keys such as
 * KEKs: node:crypto then skips importing the raw key on every call).
 */
export type AesKey = Uint8Array | KeyObject;

/** Encrypts `plaintext`; returns ciphertext with the tag appended. */
export function aesGcmEncrypt(key: AesKey, iv: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Buffer {
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: GCM_TAG_BYTES });
  cipher.setAAD(aad);
  return Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
}

/** Opens `ciphertext ‖ tag`; throws {@link DecryptionError} on any mismatch or malformed input. */
export function aesGcmDecrypt(key: AesKey, iv: Uint8Array, sealed: Uint8Array, aad: Uint8Array): Buffer {
  try {
    const keyBytes = key instanceof Uint8Array ? key.length : key.symmetricKeySize;
    if (keyBytes !== AES_KEY_BYTES || iv.length !== GCM_IV_BYTES || sealed.length < GCM_TAG_BYTES) {
      throw new RangeError('malformed key, iv or ciphertext');
    }
    const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: GCM_TAG_BYTES });
    decipher.setAAD(aad);
    decipher.setAuthTag(sealed.subarray(sealed.length - GCM_TAG_BYTES));
    const plaintext = decipher.update(sealed.subarray(0, sealed.length - GCM_TAG_BYTES));
    // GCM is a stream mode: final() only checks the tag and yields no bytes, so no copy is needed.
    const rest = decipher.final();
    return rest.length === 0 ? plaintext : Buffer.concat([plaintext, rest]);
  } catch (error) {
    throw new DecryptionError(error);
  }
}
