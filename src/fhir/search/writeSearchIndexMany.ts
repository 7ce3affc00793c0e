/**
 * The blind index rows of many resource versions written in one transaction (bulk import): the
 * same rows as {@link writeSearchIndex} writes one resource at a time, in two statements.
 */
import type { Resource } from '@medplum/fhirtypes';
import { type Queryable, statement } from '../../store/db.ts';
import { indexRows } from './indexRows.ts';
import type { SearchIndexKey } from './SearchIndexKey.ts';

const DELETE_ROWS =
  statement(`DELETE FROM fhir_search_index i USING unnest($1::text[], $2::text[]) AS r(t, id)
WHERE i.resource_type = r.t AND i.resource_id = r.id`);

/**
 * Row `n` (from 1) has `$1[n]`, `$2[n]`, `$3[n]` and the n-th 32-byte blind value of `$4`: one
 * bytea instead of an array of hex strings (no hex encoding and no array literal to parse).
 */
export const insertIndexRowsSql = (
  table: string,
) => `INSERT INTO ${table} (resource_type, resource_id, code, value)
SELECT x.t, x.id, x.c, substring($4::bytea FROM (x.n::int - 1) * 32 + 1 FOR 32)
FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS x(t, id, c, n)`;
const INSERT_ROWS = statement(insertIndexRowsSql('fhir_search_index'));

export async function writeSearchIndexMany(
  q: Queryable,
  key: SearchIndexKey,
  resources: readonly (Resource & { id: string })[],
  /** Blind values already computed in this import (see SearchIndexKey.blindMemoized). */
  memo?: Map<string, Buffer>,
): Promise<void> {
  if (resources.length === 0) return;
  await q.query(DELETE_ROWS, [resources.map((r) => r.resourceType), resources.map((r) => r.id)]);
  const types: string[] = [];
  const ids: string[] = [];
  const codes: string[] = [];
  const values: Buffer[] = [];
  for (const resource of resources) {
    for (const { code, term } of indexRows(resource)) {
      types.push(resource.resourceType);
      ids.push(resource.id);
      codes.push(code);
      const value = memo
        ? key.blindMemoized(resource.resourceType, code, term, memo)
        : key.blind(resource.resourceType, code, term);
      if (value.length !== 32) throw new RangeError('a blind index value is 32 bytes');
      values.push(value);
    }
  }
  await q.query(INSERT_ROWS, [types, ids, codes, Buffer.concat(values)]);
}
