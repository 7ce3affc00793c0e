/**
 * Tables of the FHIR API. `fhir_search_index` is the blind search index: one row per
 * (current resource version, search parameter, normalized value), the value a keyed
 * HMAC-SHA256 of type, parameter and term together, never in clear (docs/search.md).
 * `fhir_search_index_rebuild` holds a row while the index must be rebuilt from the vault. Rows are replaced in the transaction that
 * writes the version they describe.
 */
import type { Migration } from '../store/migrate.ts';

export const fhirMigrations: readonly Migration[] = [
  {
    id: '0040_fhir_search_index',
    sql: `
CREATE TABLE fhir_search_index (
  resource_type text NOT NULL,
  resource_id text NOT NULL,
  code text NOT NULL,
  value bytea NOT NULL
);
CREATE INDEX fhir_search_index_lookup ON fhir_search_index (resource_type, code, value);
CREATE INDEX fhir_search_index_value ON fhir_search_index (value);
CREATE INDEX fhir_search_index_resource ON fhir_search_index (resource_type, resource_id);
`,
  },
  {
    // Compartment look-ups go through the (type, code, value) key now, one per compartment
    // parameter: the value-only index cost every write (a third of the index's upkeep) and
    // served nothing else.
    id: '0081_search_index_drop_value_index',
    sql: `
DROP INDEX IF EXISTS fhir_search_index_value;
`,
  },
  {
    // Index values now blind (resource type, parameter, term) together, so a look-up needs the
    // value alone: a B-tree on it replaces the (type, code, value) one, whose wide keys cost as
    // much to write as the rows themselves (354,000 rows in PGlite: 3.3 s each). Not a hash
    // index: cheaper still on random values, but a term shared by many resources (status=final)
    // makes a bucket whose overflow chain every insert walks, and a load run slowed to a crawl.
    // Rows written under the old scheme are dropped and rebuilt from the vault when the node
    // starts (rebuildSearchIndex: it needs the keys, SQL cannot).
    id: '0090_search_index_keyed_values',
    sql: `
DROP INDEX IF EXISTS fhir_search_index_lookup;
TRUNCATE fhir_search_index;
CREATE INDEX fhir_search_index_value ON fhir_search_index (value);
CREATE INDEX fhir_search_index_ids ON fhir_search_index (resource_type, resource_id) WHERE code = '_id';
CREATE TABLE fhir_search_index_rebuild (requested_at timestamptz NOT NULL DEFAULT now());
INSERT INTO fhir_search_index_rebuild DEFAULT VALUES;
`,
  },
  {
    // Which resources a patient authored (created with their own token): a patient changes or
    // deletes only those. The author is a blind value of the patient's id (search index key).
    id: '0130_record_authors',
    sql: `
CREATE TABLE record_authors (
  resource_type text NOT NULL,
  resource_id text NOT NULL,
  author_index bytea NOT NULL,
  PRIMARY KEY (resource_type, resource_id)
);
`,
  },
  {
    // Searches intersect their filters in the database (lookupCandidates): the rows of the
    // driving value, then one probe per row and other filter on (value, resource_id). The
    // value-only B-tree could not answer a probe without reading every row of the value, and the
    // searches' old `resource_type = $1 AND code = $2` conditions (redundant: both are inside the
    // value's HMAC) let the planner, without statistics after a bulk import, AND it with a scan
    // of the (resource_type, resource_id) index over every row of the type: 20 ms a look-up
    // with the Synthea set, growing with the data.
    id: '0250_search_index_value_resource',
    sql: `
CREATE INDEX fhir_search_index_value_resource ON fhir_search_index (value, resource_id);
DROP INDEX IF EXISTS fhir_search_index_value;
`,
  },
  {
    // Every resource gets its Patient compartment rows (`_compartment`: one per patient, and
    // their number; indexRows.ts): searches are bounded by them and a count answered from
    // them. Rows written before have none: the node rebuilds the index from the vault.
    id: '0251_search_index_compartment_rows',
    sql: `
INSERT INTO fhir_search_index_rebuild DEFAULT VALUES;
`,
  },
];
