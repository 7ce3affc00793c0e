/**
 * Tables of `medledger sync` (docs/sync.md):
 * - `ehr_sync_sources`: per source FHIR base URL, the high-water mark (the newest
 *   `meta.lastUpdated` seen in a run that completed without failures); the next run asks only
 *   for what changed after it.
 * - `ehr_sync_resources`: per source resource, the source's version (`meta.versionId` and
 *   `meta.lastUpdated`) last written here, so a resource seen again unchanged is not written again.
 *   No content, only ids and versions (the content is in the vault, encrypted).
 */
import type { Migration } from '../../store/migrate.ts';

export const syncMigrations: readonly Migration[] = [
  {
    id: '0070_bulk_sync',
    sql: `
CREATE TABLE ehr_sync_sources (
  source text PRIMARY KEY,
  high_water text,
  last_run_at timestamptz
);
CREATE TABLE ehr_sync_resources (
  source text NOT NULL,
  resource_type text NOT NULL,
  source_id text NOT NULL,
  source_version text NOT NULL,
  synced_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (source, resource_type, source_id)
);
`,
  },
];
