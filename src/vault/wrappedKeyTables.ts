/**
 * Where data keys wrapped by the key-encryption key live. Key rotation re-wraps every
 * row of every such table and retires a KEK only when none of them uses it any more;
 * each module that wraps keys (vault, audit) describes its tables here.
 */
import { dataKeyAad } from '../crypto/sealRecord.ts';
import type { Queryable } from '../store/db.ts';
import { recordIntegrityAlert } from './VaultReader.ts';

export type WrappedKeyRow = Record<string, unknown> & {
  wrapped_key: Uint8Array;
  kek_id: string;
  row_key: string;
};

export interface WrappedKeyTable {
  /** SQL identifier of the table (never user input). */
  table: string;
  /** Unique, sortable column rows are walked by (the rotation's resume cursor). */
  keyColumn: string;
  keyType: 'bigint' | 'text';
  /** Further columns the associated data needs. */
  columns: readonly string[];
  /** Associated data the key was wrapped with. */
  aad(row: WrappedKeyRow): Uint8Array;
  /** Records that a row's key could not be unwrapped (it keeps its old KEK). */
  alert(tx: Queryable, row: WrappedKeyRow): Promise<void>;
}

export const RECORD_WRAPPED_KEYS: WrappedKeyTable = {
  table: 'record_versions',
  keyColumn: 'seq',
  keyType: 'bigint',
  columns: ['resource_type', 'resource_id', 'version_id'],
  aad: (row) =>
    dataKeyAad({
      resourceType: String(row.resource_type),
      id: String(row.resource_id),
      versionId: Number(row.version_id),
    }),
  alert: (tx, row) =>
    recordIntegrityAlert(
      tx,
      String(row.resource_type),
      String(row.resource_id),
      Number(row.version_id),
      'rotation-unwrap',
    ),
};
