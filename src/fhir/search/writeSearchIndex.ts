/**
 * Replaces a resource's blind index rows: called in the transaction that writes the version,
 * so the index never describes a version that was not committed (nor misses one that was).
 */
import type { Resource } from '@medplum/fhirtypes';
import { type Queryable, statement } from '../../store/db.ts';
import { indexRows } from './indexRows.ts';
import type { SearchIndexKey } from './SearchIndexKey.ts';

const DELETE_ROWS = statement('DELETE FROM fhir_search_index WHERE resource_type = $1 AND resource_id = $2');
/** Row `n` (from 1): code `$3[n]` and the n-th 32-byte blind value of `$4`. */
const INSERT_ROWS = statement(`INSERT INTO fhir_search_index (resource_type, resource_id, code, value)
SELECT $1, $2, x.c, substring($4::bytea FROM (x.n::int - 1) * 32 + 1 FOR 32)
FROM unnest($3::text[]) WITH ORDINALITY AS x(c, n)`);

/** Writes the rows of the current version; `resource` undefined (deleted) leaves none. */
export async function writeSearchIndex(
  q: Queryable,
  key: SearchIndexKey,
  resourceType: string,
  id: string,
  resource: (Resource & { id: string }) | undefined,
): Promise<void> {
  await q.query(DELETE_ROWS, [resourceType, id]);
  if (!resource) return;
  const terms = indexRows(resource);
  const codes: string[] = [];
  const values: Buffer[] = [];
  for (const { code, term } of terms) {
    codes.push(code);
    const value = key.blind(resourceType, code, term);
    if (value.length !== 32) throw new RangeError('a blind index value is 32 bytes');
    values.push(value);
  }
  await q.query(INSERT_ROWS, [resourceType, id, codes, Buffer.concat(values)]);
}
