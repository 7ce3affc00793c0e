/**
 * Bulk export's wrapped data keys, for key rotation (`src/vault/rotateKeys.ts`): each job's sealed
 * request and each sealed NDJSON file. Passing these tables to the rotation keeps export files
 * readable after the old key-encryption key is retired.
 */
import type { WrappedKeyTable } from '../../vault/wrappedKeyTables.ts';
import { fileAad, jobAad } from './exportJobs.ts';

const alertExport =
  (resourceType: string): WrappedKeyTable['alert'] =>
  async (tx, row) => {
    await tx.query(
      `INSERT INTO integrity_alerts (subject, resource_type, resource_id, code, detail)
       VALUES ('bulk-export', $1, $2, 'ERR_INTEGRITY', 'rotation-unwrap')`,
      [resourceType, row.row_key],
    );
  };

export const BULK_EXPORT_WRAPPED_KEYS: readonly WrappedKeyTable[] = [
  {
    table: 'bulk_export_jobs',
    keyColumn: 'id',
    keyType: 'text',
    columns: [],
    aad: (row) => jobAad(String(row.row_key)).dataKey,
    alert: alertExport('BulkExportJob'),
  },
  {
    table: 'bulk_export_files',
    keyColumn: 'seq',
    keyType: 'bigint',
    columns: ['job_id', 'name'],
    aad: (row) => fileAad(String(row.job_id), String(row.name)).dataKey,
    alert: alertExport('BulkExportFile'),
  },
];
