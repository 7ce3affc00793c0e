/**
 * The blind index rows of many resource versions written in one transaction (bulk import): the
 * same rows as {@link writeSearchIndex} writes one resource at a time, in two statements.
 */
import type { Resource } from '@medplum/fhirtypes';
import type { Queryable } from '../../store/db.ts';
import { indexTerms } from './indexTerms.ts';
import type { SearchIndexKey } from './SearchIndexKey.ts';

export async function writeSearchIndexMany(
  q: Queryable,
  key: SearchIndexKey,
  resources: readonly (Resource & { id: string })[],
): Promise<void> {
  if (resources.length === 0) return;
  await q.query(
    `DELETE FROM fhir_search_index i USING unnest($1::text[], $2::text[]) AS r(t, id)
     WHERE i.resource_type = r.t AND i.resource_id = r.id`,
    [resources.map((r) => r.resourceType), resources.map((r) => r.id)],
  );
  const types: string[] = [];
  const ids: string[] = [];
  const codes: string[] = [];
  const values: string[] = [];
  for (const resource of resources) {
    for (const { code, term } of indexTerms(resource)) {
      types.push(resource.resourceType);
      ids.push(resource.id);
      codes.push(code);
      values.push(`\\x${key.blind(term).toString('hex')}`);
    }
  }
  await q.query(
    `INSERT INTO fhir_search_index (resource_type, resource_id, code, value)
     SELECT t, id, c, v::bytea FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS x(t, id, c, v)`,
    [types, ids, codes, values],
  );
}
