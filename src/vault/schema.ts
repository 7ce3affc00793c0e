/**
 * Tables of the record vault and of anchoring.
 *
 * - `record_versions`: one row per FHIR resource version, encrypted, with its commitment and leaf.
 *   `ciphertext` is `iv ‖ ciphertext ‖ tag` (its sha256 is the ciphertext hash in the leaf, so
 *   that hash is not stored twice). `seq` is the global write order the batcher follows.
 *   Batch columns are filled by the batcher; `proof` is the concatenation of 32-byte sibling
 *   nodes, bottom-up.
 * - `anchor_batches`: per kind (0 records, 1 audit) a contiguous sequence of Merkle roots, each
 *   enqueued in the chain outbox in the same transaction.
 * - `integrity_alerts`: every failed check on read, for the operator.
 * - `record_erasures`: who erased which versions, when (crypto-shredding leaves the leaves intact).
 */
import type { Migration } from '../store/migrate.ts';

export const vaultMigrations: readonly Migration[] = [
  {
    id: '0002_vault',
    sql: `
CREATE TABLE record_versions (
  seq bigserial PRIMARY KEY,
  resource_type text NOT NULL,
  resource_id text NOT NULL,
  version_id integer NOT NULL CHECK (version_id > 0),
  deleted boolean NOT NULL DEFAULT false,
  last_updated timestamptz NOT NULL,
  ciphertext bytea NOT NULL,
  wrapped_key bytea,
  kek_id text NOT NULL,
  content_commitment bytea NOT NULL,
  leaf bytea NOT NULL,
  batch_sequence bigint,
  batch_index integer,
  proof bytea,
  erased_at timestamptz,
  UNIQUE (resource_type, resource_id, version_id)
);
CREATE INDEX record_versions_unbatched ON record_versions (seq) WHERE batch_sequence IS NULL;
CREATE TABLE anchor_batches (
  kind smallint NOT NULL,
  sequence bigint NOT NULL,
  root bytea NOT NULL,
  leaf_count integer NOT NULL CHECK (leaf_count > 0),
  first_seq bigint NOT NULL,
  last_seq bigint NOT NULL,
  outbox_id bigint REFERENCES chain_outbox (id),
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (kind, sequence)
);
CREATE TABLE integrity_alerts (
  id bigserial PRIMARY KEY,
  subject text NOT NULL,
  resource_type text,
  resource_id text,
  version_id integer,
  code text NOT NULL,
  detail text NOT NULL,
  at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE record_erasures (
  id bigserial PRIMARY KEY,
  resource_type text NOT NULL,
  resource_id text NOT NULL,
  version_ids integer[] NOT NULL,
  erased_by text NOT NULL,
  reason text,
  erased_at timestamptz NOT NULL DEFAULT now()
);
`,
  },
];
