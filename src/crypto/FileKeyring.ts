/**
 * File-backed KEKs in `<dataDir>/keys/`: each KEK is 32 random bytes in `<id>.key` (mode 0600) and
 * `current` names the one new writes use. Generated on first start. Other node processes sharing the
 * directory pick up KEKs made by a rotation lazily, on first use of their id.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError } from '../errors/MedledgerError.ts';
import { AES_KEY_BYTES } from './aesGcm.ts';
import { aesKeyEncryptionKey } from './aesKeyEncryptionKey.ts';
import type { KeyEncryptionKey, Keyring } from './KeyEncryptionKey.ts';

// KEK files are `kek-<time>-<random>.key`; the node's own keys (node-signing.key,
// node-encryption.key) live in the same directory and must never be taken for KEKs (or retired).
const ID_PATTERN = /^kek-[a-z0-9-]{1,60}$/;

export class FileKeyring implements Keyring {
  readonly #dir: string;
  readonly #keys = new Map<string, KeyEncryptionKey>();
  #current: KeyEncryptionKey;

  private constructor(dir: string, current: KeyEncryptionKey) {
    this.#dir = dir;
    this.#current = current;
    this.#keys.set(current.id, current);
  }

  /** Opens (or creates, on first start) the keyring in `<dataDir>/keys`. */
  static async open(dataDir: string): Promise<FileKeyring> {
    const dir = join(dataDir, 'keys');
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const currentId = await readFile(join(dir, 'current'), 'utf8').then(
      (text) => text.trim(),
      () => undefined,
    );
    if (currentId === undefined) {
      const kek = await createKey(dir);
      await writeCurrent(dir, kek.id);
      return new FileKeyring(dir, kek);
    }
    const kek = await loadKey(dir, currentId);
    if (!kek)
      throw new ConfigError(`${join(dir, 'current')} names key ${currentId}, which is missing in ${dir}`);
    return new FileKeyring(dir, kek);
  }

  current(): KeyEncryptionKey {
    return this.#current;
  }

  async get(id: string): Promise<KeyEncryptionKey | undefined> {
    const cached = this.#keys.get(id);
    if (cached) return cached;
    const loaded = await loadKey(this.#dir, id);
    if (loaded) this.#keys.set(id, loaded);
    return loaded;
  }

  async rotate(): Promise<KeyEncryptionKey> {
    const kek = await createKey(this.#dir);
    await writeCurrent(this.#dir, kek.id);
    this.#keys.set(kek.id, kek);
    this.#current = kek;
    return kek;
  }

  async retire(id: string): Promise<void> {
    if (id === this.#current.id) throw new RangeError('the current key-encryption key cannot be retired');
    if (!ID_PATTERN.test(id)) return;
    const file = join(this.#dir, `${id}.key`);
    // Overwrite before unlinking so the bytes do not linger in the file's blocks (best effort).
    await writeFile(file, randomBytes(AES_KEY_BYTES)).catch(() => {});
    await rm(file, { force: true });
    this.#keys.delete(id);
  }

  async ids(): Promise<string[]> {
    const files = await readdir(this.#dir);
    return files
      .filter((f) => f.endsWith('.key'))
      .map((f) => f.slice(0, -4))
      .filter((id) => ID_PATTERN.test(id));
  }
}

async function createKey(dir: string): Promise<KeyEncryptionKey> {
  const id = `kek-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
  const key = randomBytes(AES_KEY_BYTES);
  await writeFile(join(dir, `${id}.key`), key, { mode: 0o600, flag: 'wx' });
  return aesKeyEncryptionKey(id, key);
}

async function loadKey(dir: string, id: string): Promise<KeyEncryptionKey | undefined> {
  if (!ID_PATTERN.test(id)) return undefined;
  const key = await readFile(join(dir, `${id}.key`)).catch(() => undefined);
  if (!key || key.length !== AES_KEY_BYTES) return undefined;
  return aesKeyEncryptionKey(id, key);
}

/** Replaces `current` atomically (write a temp file, rename over). */
async function writeCurrent(dir: string, id: string): Promise<void> {
  const temp = join(dir, `current.${randomBytes(4).toString('hex')}.tmp`);
  await writeFile(temp, `${id}\n`, { mode: 0o600 });
  await chmod(temp, 0o600);
  await rename(temp, join(dir, 'current'));
}
