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
  let after = { resourceType: '', id: '' };
  const reader = vault.reader();
  for (;;) {
    const page = await reader.resourceIds(after, PAGE);
    const last = page[page.length - 1];
    if (!last) break;
    after = last;
    const byType = new Map<string, string[]>();
    for (const row of page) {
      const ids = byType.get(row.resourceType);
      if (ids) ids.push(row.id);
      else byType.set(row.resourceType, [row.id]);
    }
    const resources: (Resource & { id: string })[] = [];
    for (const [type, ids] of byType) {
      const found = await reader.currentMany(type, ids);
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
