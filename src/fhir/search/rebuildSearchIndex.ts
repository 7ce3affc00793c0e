/**
 * Rebuilds the blind search index from the vault when a migration asked for it (a row in
 * `fhir_search_index_rebuild`: the index's format changed and SQL cannot recompute keyed values).
 * Runs when the node starts, before it serves: every resource's current version is read and
 * verified like any read, its index rows are written (the old ones of that resource replaced), 500
 * resources per transaction; the request row goes only once all are done, so an interrupted
 * rebuild starts over on the next start and ends with the same index.
 */
import type { Resource } from '@medplum/fhirtypes';
import type { Db } from '../../store/db.ts';
import type { Vault } from '../../vault/Vault.ts';
import type { SearchIndexKey } from './SearchIndexKey.ts';
import { writeSearchIndexMany } from './writeSearchIndexMany.ts';

export interface RebuildResult {
  /** Resources whose current version was indexed. */
  indexed: number;
  /** Resources with no servable current version (deleted, erased, or failing a check). */
  skipped: number;
  seconds: number;
}

const PAGE = 500;

/** Rebuilds the index if requested; undefined when there was nothing to do. */
export async function rebuildSearchIndexIfRequested(
  db: Db,
  vault: Vault,
  key: SearchIndexKey,
): Promise<RebuildResult | undefined> {
  const [request] = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM fhir_search_index_rebuild');
  if (!request?.n) return undefined;
  const started = performance.now();
  let indexed = 0;
  let skipped = 0;
  let after: { type: string; id: string } = { type: '', id: '' };
  for (;;) {
    const page = await db.query<{ resource_type: string; resource_id: string }>(
      `SELECT DISTINCT resource_type, resource_id FROM record_versions
       WHERE (resource_type, resource_id) > ($1, $2)
       ORDER BY resource_type, resource_id LIMIT ${PAGE}`,
      [after.type, after.id],
    );
    if (page.length === 0) break;
    const last = page[page.length - 1]!;
    after = { type: last.resource_type, id: last.resource_id };
    const byType = new Map<string, string[]>();
    for (const row of page)
      byType.set(row.resource_type, [...(byType.get(row.resource_type) ?? []), row.resource_id]);
    const resources: (Resource & { id: string })[] = [];
    for (const [type, ids] of byType) {
      const found = await vault.readCurrentMany(type, ids);
      for (const id of ids) {
        const version = found.get(id);
        if (version) resources.push({ ...(version.resource as Resource), id });
        else skipped++;
      }
    }
    await db.transaction((tx) => writeSearchIndexMany(tx, key, resources));
    indexed += resources.length;
  }
  await db.query('DELETE FROM fhir_search_index_rebuild');
  return { indexed, skipped, seconds: (performance.now() - started) / 1000 };
}
