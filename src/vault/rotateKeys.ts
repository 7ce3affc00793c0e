/**
 * Key-encryption-key rotation: a new KEK becomes current, then every data key is re-wrapped under
 * it in chunks, each chunk its own transaction; ciphertexts and leaves are untouched. Interrupted,
 * it resumes: when wrapped keys under other KEKs remain, a re-run finishes with the current KEK
 * instead of making another. Old KEKs no wrapped key references any more are retired at the end.
 */
import type { Keyring } from '../crypto/KeyEncryptionKey.ts';
import type { Db } from '../store/db.ts';
import { toBuffer } from './toBuffer.ts';
import { RECORD_WRAPPED_KEYS, type WrappedKeyRow, type WrappedKeyTable } from './wrappedKeyTables.ts';

export interface RotateKeysOptions {
  /** Wrapped keys re-wrapped per transaction. Default 500. */
  chunkSize?: number;
  /** Called after each committed chunk (progress; tests interrupt here). */
  afterChunk?: (rewrapped: number) => void | Promise<void>;
}

export interface RotateKeysResult {
  kekId: string;
  /** False when this run finished an interrupted rotation. */
  newKey: boolean;
  rewrapped: number;
  /** Wrapped keys that could not be unwrapped (each raised an integrity alert); their KEK stays. */
  failed: number;
  retired: string[];
}

const IDENTIFIER = /^[a-z_][a-z0-9_]*$/;

/**
 * Re-wraps every data key in `tables` (default: record versions only; the node passes every
 * module's tables, see {@link WrappedKeyTable}) under a new current KEK, then retires the KEKs
 * no table references any more.
 */
export async function rotateKeys(
  db: Db,
  keyring: Keyring,
  options: RotateKeysOptions & { tables?: readonly WrappedKeyTable[] } = {},
): Promise<RotateKeysResult> {
  const chunkSize = options.chunkSize ?? 500;
  const tables = options.tables ?? [RECORD_WRAPPED_KEYS];
  for (const t of tables) {
    for (const name of [t.table, t.keyColumn, ...t.columns]) {
      if (!IDENTIFIER.test(name)) throw new RangeError(`not an SQL identifier: ${name}`);
    }
  }
  const newKey = !(await anyUsesOtherThan(db, tables, keyring.current().id));
  const target = newKey ? await keyring.rotate() : keyring.current();
  let rewrapped = 0;
  let failed = 0;
  for (const t of tables) {
    let after = t.keyType === 'bigint' ? '-9223372036854775808' : '';
    for (;;) {
      const chunk = await db.transaction(async (tx) => {
        const rows = await tx.query<WrappedKeyRow>(
          `SELECT ${t.keyColumn}::text AS row_key, wrapped_key, kek_id${t.columns.map((c) => `, ${c}`).join('')}
           FROM ${t.table}
           WHERE kek_id <> $1 AND wrapped_key IS NOT NULL AND ${t.keyColumn} > $2::${t.keyType}
           ORDER BY ${t.table}.${t.keyColumn} LIMIT $3 FOR UPDATE`,
          [target.id, after, chunkSize],
        );
        const keys: string[] = [];
        const wrapped: string[] = [];
        for (const row of rows) {
          try {
            const old = await keyring.get(row.kek_id);
            if (!old) throw new Error('unknown key-encryption key');
            const aad = t.aad(row);
            const dataKey = await old.unwrap(toBuffer(row.wrapped_key), aad);
            const rewrappedKey = await target.wrap(dataKey, aad);
            dataKey.fill(0);
            keys.push(row.row_key);
            wrapped.push(toBuffer(rewrappedKey).toString('hex'));
          } catch {
            failed++;
            await t.alert(tx, row);
          }
        }
        if (keys.length > 0) {
          await tx.query(
            `UPDATE ${t.table} AS t SET wrapped_key = decode(u.wrapped, 'hex'), kek_id = $3
             FROM unnest($1::${t.keyType}[], $2::text[]) AS u(row_key, wrapped) WHERE t.${t.keyColumn} = u.row_key`,
            [keys, wrapped, target.id],
          );
        }
        return { count: rows.length, rewrapped: keys.length, last: rows[rows.length - 1]?.row_key };
      });
      if (chunk.count === 0 || chunk.last === undefined) break;
      after = chunk.last;
      rewrapped += chunk.rewrapped;
      await options.afterChunk?.(rewrapped);
    }
  }
  const retired: string[] = [];
  for (const id of await keyring.ids()) {
    if (id === target.id) continue;
    if (await anyUses(db, tables, id)) continue;
    await keyring.retire(id);
    retired.push(id);
  }
  return { kekId: target.id, newKey, rewrapped, failed, retired };
}

async function anyUses(db: Db, tables: readonly WrappedKeyTable[], kekId: string): Promise<boolean> {
  for (const t of tables) {
    const rows = await db.query(
      `SELECT 1 FROM ${t.table} WHERE kek_id = $1 AND wrapped_key IS NOT NULL LIMIT 1`,
      [kekId],
    );
    if (rows.length > 0) return true;
  }
  return false;
}

async function anyUsesOtherThan(db: Db, tables: readonly WrappedKeyTable[], kekId: string): Promise<boolean> {
  for (const t of tables) {
    const rows = await db.query(
      `SELECT 1 FROM ${t.table} WHERE kek_id <> $1 AND wrapped_key IS NOT NULL LIMIT 1`,
      [kekId],
    );
    if (rows.length > 0) return true;
  }
  return false;
}
