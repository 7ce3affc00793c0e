/**
 * Tables of FHIR Bulk Data export (docs/export.md).
 *
 * - `bulk_export_jobs`: one row per kick-off. The requester is stored only as a hash (who may
 *   poll, download and cancel); the request itself (level, types, `_since`, the principal it runs
 *   as) is sealed like a record (envelope encryption under the node's KEK), since it can name a
 *   patient or a group.
 * - `bulk_export_files`: the NDJSON output, each file sealed (AES-256-GCM, fresh data key wrapped
 *   by the KEK, associated data binding job and file name), with its count and the SHA-256 of
 *   its plaintext bytes (the hash the manifest's audit event anchors).
 */
import type { Migration } from '../../store/migrate.ts';

export const bulkExportMigrations: readonly Migration[] = [
  {
    id: '0070_bulk_export',
    sql: `
CREATE TABLE bulk_export_jobs (
  id text PRIMARY KEY,
  owner_hash bytea NOT NULL,
  status text NOT NULL CHECK (status IN ('in-progress', 'completed', 'failed', 'cancelled')),
  progress text,
  error text,
  ciphertext bytea NOT NULL,
  wrapped_key bytea NOT NULL,
  kek_id text NOT NULL,
  transaction_time timestamptz NOT NULL,
  audit_event text,
  created_at timestamptz NOT NULL DEFAULT now(),
  completed_at timestamptz
);
CREATE TABLE bulk_export_files (
  seq bigserial PRIMARY KEY,
  job_id text NOT NULL REFERENCES bulk_export_jobs (id) ON DELETE CASCADE,
  name text NOT NULL,
  kind text NOT NULL CHECK (kind IN ('output', 'error')),
  resource_type text NOT NULL,
  count integer NOT NULL,
  sha256 bytea NOT NULL,
  ciphertext bytea NOT NULL,
  wrapped_key bytea NOT NULL,
  kek_id text NOT NULL,
  UNIQUE (job_id, name)
);
`,
  },
];
