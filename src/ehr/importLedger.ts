/**
 * The import ledger: which units (Bundle entries, NDJSON lines) of a file, by content hash,
 * are stored and as what. Rows are written in the transaction that stored the resources.
 */
import type { Queryable } from '../store/db.ts';

export interface LedgerRow {
  unit: string;
  resource_type: string;
  /** `Type/id` of the stored resource. */
  reference: string;
  /** The entry's fullUrl (urn:uuid), so later entries' references to it resolve on resume. */
  full_url: string | null;
}

export async function readLedger(q: Queryable, contentHash: string): Promise<Map<string, LedgerRow>> {
  const rows = await q.query<LedgerRow>(
    'SELECT unit, resource_type, reference, full_url FROM ehr_import_ledger WHERE content_hash = $1',
    [contentHash],
  );
  return new Map(rows.map((row) => [row.unit, row]));
}

export async function writeLedger(
  q: Queryable,
  contentHash: string,
  rows: readonly LedgerRow[],
): Promise<void> {
  if (rows.length === 0) return;
  await q.query(
    `INSERT INTO ehr_import_ledger (content_hash, unit, resource_type, reference, full_url)
     SELECT $1, u, t, r, NULLIF(f, '') FROM unnest($2::text[], $3::text[], $4::text[], $5::text[]) AS x(u, t, r, f)
     ON CONFLICT (content_hash, unit) DO NOTHING`,
    [
      contentHash,
      rows.map((r) => r.unit),
      rows.map((r) => r.resource_type),
      rows.map((r) => r.reference),
      rows.map((r) => r.full_url ?? ''),
    ],
  );
}
