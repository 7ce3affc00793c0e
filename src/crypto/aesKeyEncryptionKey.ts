/**
 * A KEK held in memory as 32 raw bytes: wrapping is AES-256-GCM, output `iv ‖ ciphertext ‖ tag`.
 * The KEK id is part of the associated data, so a wrapped key re-labelled with another id fails.
 */
import { createSecretKey } from 'node:crypto';
import { AES_KEY_BYTES, aesGcmDecrypt, aesGcmEncrypt, GCM_IV_BYTES } from './aesGcm.ts';
import { DecryptionError } from './DecryptionError.ts';
import type { KeyEncryptionKey } from './KeyEncryptionKey.ts';
import { secureRandom } from './secureRandom.ts';

export function aesKeyEncryptionKey(id: string, key: Uint8Array): KeyEncryptionKey {
  if (key.length !== AES_KEY_BYTES) throw new RangeError(`a key-encryption key is ${AES_KEY_BYTES} bytes`);
  const secret = createSecretKey(key);
  const label = Buffer.from(`medledger.kek.v1\n${id}\n`);
  const bind = (aad: Uint8Array) => Buffer.concat([label, aad]);
  return {
    id,
    async wrap(dataKey, aad) {
      const iv = secureRandom(GCM_IV_BYTES);
      return Buffer.concat([iv, aesGcmEncrypt(secret, iv, dataKey, bind(aad))]);
    },
    async unwrap(wrapped, aad) {
      if (wrapped.length <= GCM_IV_BYTES) throw new DecryptionError();
      const dataKey = aesGcmDecrypt(
        secret,
        wrapped.subarray(0, GCM_IV_BYTES),
        wrapped.subarray(GCM_IV_BYTES),
        bind(aad),
      );
      if (dataKey.length !== AES_KEY_BYTES) throw new DecryptionError();
      return dataKey;
    },
  };
}
