/**
 * A keyring of one KEK supplied by configuration (base64 of 32 bytes), e.g. from a secret store.
 * It cannot rotate by itself: to rotate, configure a keys directory or a KMS-backed keyring.
 */
import { createHash } from 'node:crypto';
import { ConfigError } from '../errors/MedledgerError.ts';
import { AES_KEY_BYTES } from './aesGcm.ts';
import { aesKeyEncryptionKey } from './aesKeyEncryptionKey.ts';
import type { Keyring } from './KeyEncryptionKey.ts';

export function staticKeyring(base64Key: string): Keyring {
  const key = Buffer.from(base64Key, 'base64');
  if (key.length !== AES_KEY_BYTES) {
    throw new ConfigError(
      `the configured key-encryption key must be base64 of ${AES_KEY_BYTES} random bytes`,
    );
  }
  // The id reveals nothing useful about the key: a truncated hash under a fixed label.
  const id = `cfg-${createHash('sha256').update('medledger.kek-id.v1').update(key).digest('hex').slice(0, 16)}`;
  const kek = aesKeyEncryptionKey(id, key);
  return {
    current: () => kek,
    get: async (wanted) => (wanted === id ? kek : undefined),
    rotate: async () => {
      throw new ConfigError('a key-encryption key supplied by configuration cannot be rotated in place');
    },
    retire: async () => {},
    ids: async () => [id],
  };
}
