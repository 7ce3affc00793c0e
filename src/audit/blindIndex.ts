/**
 * Keyed blind indexes of the identifying fields of an audit event (patient, agent): HMAC-SHA256
 * under a 256-bit index key, truncated to 16 bytes. Equal values give equal index values, so the
 * log is searchable by patient and agent while the database holds neither in clear; without the
 * key, an index value cannot be tested against a guessed identifier.
 *
 * The index key is generated once per database and kept in `audit_keys`, wrapped by the KEK.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { AES_KEY_BYTES } from '../crypto/aesGcm.ts';
import type { Keyring } from '../crypto/KeyEncryptionKey.ts';
import type { Queryable } from '../store/db.ts';
import { toBuffer } from '../vault/toBuffer.ts';
import { AuditKeyError } from './errors.ts';

export type BlindIndexField = 'patient' | 'agent';

const PURPOSE = 'blind-index';
/** Associated data the blind-index key is wrapped with (key rotation re-wraps it). */
export const BLIND_INDEX_KEY_AAD = Buffer.from('medledger.audit-index-key.v1');
const AAD = BLIND_INDEX_KEY_AAD;

export function blindIndex(key: Uint8Array, field: BlindIndexField, value: string): Buffer {
  return createHmac('sha256', key).update(`${field}\n${value}`).digest().subarray(0, 16);
}

/** Loads the index key, creating it on first use (two processes racing agree on one). */
export async function loadAuditIndexKey(db: Queryable, keyring: Keyring): Promise<Buffer> {
  let rows = await selectKey(db);
  if (rows.length === 0) {
    const kek = keyring.current();
    const wrapped = await kek.wrap(randomBytes(AES_KEY_BYTES), AAD);
    await db.query(
      'INSERT INTO audit_keys (purpose, wrapped_key, kek_id) VALUES ($1, $2, $3) ON CONFLICT (purpose) DO NOTHING',
      [PURPOSE, wrapped, kek.id],
    );
    rows = await selectKey(db);
  }
  const row = rows[0];
  if (!row) throw new AuditKeyError();
  const kek = await keyring.get(row.kek_id);
  if (!kek) throw new AuditKeyError();
  try {
    return Buffer.from(await kek.unwrap(toBuffer(row.wrapped_key), AAD));
  } catch (error) {
    throw new AuditKeyError(error);
  }
}

function selectKey(db: Queryable) {
  return db.query<{ wrapped_key: Uint8Array; kek_id: string }>(
    'SELECT wrapped_key, kek_id FROM audit_keys WHERE purpose = $1',
    [PURPOSE],
  );
}
