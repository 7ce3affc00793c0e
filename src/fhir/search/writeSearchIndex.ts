/**
 * Replaces a resource's blind index rows: called in the transaction that writes the version,
 * so the index never describes a version that was not committed (nor misses one that was).
 */
import type { Resource } from '@medplum/fhirtypes';
import type { Queryable } from '../../store/db.ts';
import { indexTerms } from './indexTerms.ts';
import type { SearchIndexKey } from './SearchIndexKey.ts';

/** Writes the rows of the current version; `resource` undefined (deleted) leaves none. */
export async function writeSearchIndex(
  q: Queryable,
  key: SearchIndexKey,
  resourceType: string,
  id: string,
  resource: (Resource & { id: string }) | undefined,
): Promise<void> {
  await q.query('DELETE FROM fhir_search_index WHERE resource_type = $1 AND resource_id = $2', [
    resourceType,
    id,
  ]);
  if (!resource) return;
  const terms = indexTerms(resource);
  const codes: string[] = [];
  const values: string[] = [];
  for (const { code, term } of terms) {
    codes.push(code);
    values.push(`\\x${key.blind(term).toString('hex')}`);
  }
  await q.query(
    `INSERT INTO fhir_search_index (resource_type, resource_id, code, value)
     SELECT $1, $2, c, v::bytea FROM unnest($3::text[], $4::text[]) AS t(c, v)`,
    [resourceType, id, codes, values],
  );
}
