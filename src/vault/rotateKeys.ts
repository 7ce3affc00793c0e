/**
 * Key-encryption-key rotation: a new KEK becomes current, then every data key is re-wrapped under
 * it in chunks, each chunk its own transaction; ciphertexts and leaves are untouched. Interrupted,
 * it resumes: when wrapped keys under other KEKs remain, a re-run finishes with the current KEK
 * instead of making another. Old KEKs no wrapped key references any more are retired at the end.
 */
import type { Keyring } from '../crypto/KeyEncryptionKey.ts';
import { dataKeyAad } from '../crypto/sealRecord.ts';
import type { Db } from '../store/db.ts';
import { toBuffer } from './toBuffer.ts';
import { recordIntegrityAlert } from './Vault.ts';

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

interface WrappedKeyRow {
  seq: string;
  resource_type: string;
  resource_id: string;
  version_id: number;
  wrapped_key: Uint8Array;
  kek_id: string;
}

export async function rotateKeys(
  db: Db,
  keyring: Keyring,
  options: RotateKeysOptions = {},
): Promise<RotateKeysResult> {
  const chunkSize = options.chunkSize ?? 500;
  const unfinished = await db.query(
    'SELECT 1 FROM record_versions WHERE kek_id <> $1 AND wrapped_key IS NOT NULL LIMIT 1',
    [keyring.current().id],
  );
  const newKey = unfinished.length === 0;
  const target = newKey ? await keyring.rotate() : keyring.current();
  let rewrapped = 0;
  let failed = 0;
  let after = '0';
  for (;;) {
    const chunk = await db.transaction(async (tx) => {
      const rows = await tx.query<WrappedKeyRow>(
        `SELECT seq::text AS seq, resource_type, resource_id, version_id, wrapped_key, kek_id FROM record_versions
         WHERE kek_id <> $1 AND wrapped_key IS NOT NULL AND seq > $2::bigint ORDER BY record_versions.seq LIMIT $3 FOR UPDATE`,
        [target.id, after, chunkSize],
      );
      const seqs: string[] = [];
      const wrapped: string[] = [];
      for (const row of rows) {
        const version = { resourceType: row.resource_type, id: row.resource_id, versionId: row.version_id };
        try {
          const old = await keyring.get(row.kek_id);
          if (!old) throw new Error('unknown key-encryption key');
          const dataKey = await old.unwrap(toBuffer(row.wrapped_key), dataKeyAad(version));
          const rewrappedKey = await target.wrap(dataKey, dataKeyAad(version));
          dataKey.fill(0);
          seqs.push(row.seq);
          wrapped.push(toBuffer(rewrappedKey).toString('hex'));
        } catch {
          failed++;
          await recordIntegrityAlert(
            tx,
            row.resource_type,
            row.resource_id,
            row.version_id,
            'rotation-unwrap',
          );
        }
      }
      if (seqs.length > 0) {
        await tx.query(
          `UPDATE record_versions AS t SET wrapped_key = decode(u.wrapped, 'hex'), kek_id = $3
           FROM unnest($1::bigint[], $2::text[]) AS u(seq, wrapped) WHERE t.seq = u.seq`,
          [seqs, wrapped, target.id],
        );
      }
      return { count: rows.length, rewrapped: seqs.length, last: rows[rows.length - 1]?.seq };
    });
    if (chunk.count === 0 || chunk.last === undefined) break;
    after = chunk.last;
    rewrapped += chunk.rewrapped;
    await options.afterChunk?.(rewrapped);
  }
  const retired: string[] = [];
  for (const id of await keyring.ids()) {
    if (id === target.id) continue;
    const used = await db.query(
      'SELECT 1 FROM record_versions WHERE kek_id = $1 AND wrapped_key IS NOT NULL LIMIT 1',
      [id],
    );
    if (used.length > 0) continue;
    await keyring.retire(id);
    retired.push(id);
  }
  return { kekId: target.id, newKey, rewrapped, failed, retired };
}
