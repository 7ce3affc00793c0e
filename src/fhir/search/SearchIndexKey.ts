/**
 * The key of the blind search index: 32 random bytes in `<dataDir>/keys/search-index.key`
 * (mode 0600), generated on first use. Index values are HMAC-SHA256 under this key, so the
 * database holds no plaintext identifier and a database administrator without the key can
 * test no guessed value against it.
 * @see https://www.rfc-editor.org/rfc/rfc2104
 */
import { createHmac, randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export class SearchIndexKey {
  readonly #key: Buffer;

  private constructor(key: Buffer) {
    this.#key = key;
  }

  /** Opens the key in `<dataDir>/keys`, creating it (exclusively) on first use. */
  static async open(dataDir: string): Promise<SearchIndexKey> {
    const dir = join(dataDir, 'keys');
    const file = join(dir, 'search-index.key');
    await mkdir(dir, { recursive: true, mode: 0o700 });
    try {
      return new SearchIndexKey(await readKey(file));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    try {
      await writeFile(file, randomBytes(32).toString('base64'), { mode: 0o600, flag: 'wx' });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    await chmod(file, 0o600);
    return new SearchIndexKey(await readKey(file));
  }

  /** A key held only in memory (tests). */
  static ephemeral(): SearchIndexKey {
    return new SearchIndexKey(randomBytes(32));
  }

  /**
   * The blind value of one normalized index term of a search parameter (`code`) of a resource
   * type. Type and parameter are inside the HMAC, so one value says all three: the index looks a
   * value up alone (an index on `value`), and equal terms of different parameters or types
   * give unrelated values.
   */
  blind(resourceType: string, code: string, term: string): Buffer {
    return this.#hmac(blindInput(resourceType, code, term));
  }

  /**
   * {@link blind} remembering its answers in `memo` (a bulk import passes one Map for the whole
   * run: its 334,000 index values over the Synthea set are 75,500 distinct ones, and an HMAC costs
   * about 4 µs). The memo holds plaintext terms, so it lives only as long as its caller keeps it;
   * it is emptied when it reaches {@link MEMO_LIMIT} entries.
   */
  blindMemoized(resourceType: string, code: string, term: string, memo: Map<string, Buffer>): Buffer {
    const input = blindInput(resourceType, code, term);
    let value = memo.get(input);
    if (value === undefined) {
      value = this.#hmac(input);
      if (memo.size >= MEMO_LIMIT) memo.clear();
      memo.set(input, value);
    }
    return value;
  }

  #hmac(input: string): Buffer {
    return createHmac('sha256', this.#key).update(input, 'utf8').digest();
  }
}

/** What is HMACed: type, parameter and term, NUL-separated (none of them contains NUL). */
function blindInput(resourceType: string, code: string, term: string): string {
  return `${resourceType}\u0000${code}\u0000${term}`;
}

/** Most values a memo holds (about 10 MB). */
export const MEMO_LIMIT = 100_000;

async function readKey(file: string): Promise<Buffer> {
  const key = Buffer.from((await readFile(file, 'utf8')).trim(), 'base64');
  if (key.length !== 32) throw new Error(`${file} does not hold a 32-byte base64 key`);
  return key;
}

const loaded = new Map<string, Promise<SearchIndexKey>>();

/** One key per data directory per process. */
export function searchIndexKeyFor(dataDir: string): Promise<SearchIndexKey> {
  let key = loaded.get(dataDir);
  if (!key) {
    key = SearchIndexKey.open(dataDir);
    key.catch(() => loaded.delete(dataDir));
    loaded.set(dataDir, key);
  }
  return key;
}
