/**
 * Tables of the record vault and of anchoring.
 *
 * - `record_versions`: one row per FHIR resource version, encrypted, with its commitment and leaf.
 *   `ciphertext` is `iv ‖ ciphertext ‖ tag` (its sha256 is the ciphertext hash in the leaf, so
 *   that hash is not stored twice). `seq` is the global write order the batcher follows.
 *   Since `0100_anchor_proofs` a row is written once: its batch, index and proof (32-byte
 *   sibling nodes, bottom-up) are its row in `anchor_proofs`, inserted with the batch.
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

/**
 * `0100_anchor_proofs`: a leaf's batch, index and proof live in `anchor_proofs`, one row per
 * batched leaf of either kind, inserted once with the batch, instead of UPDATE-ing every record
 * version and audit event after it was written. Leaf tables are then written once and never
 * rewritten by batching: no second tuple of every ~1.5 KB row, no index entries for it, no
 * partial "unbatched" index (what is pending is every `seq` after the kind's last batch's
 * `last_seq`). The audit log no longer needs its trigger's exception for batch columns: the only
 * update left is re-wrapping a data key (rotation). Proof rows themselves are append-only.
 * Runs after the audit log's migrations (it moves that table's batch columns too).
 */
export const anchorProofMigrations: readonly Migration[] = [
  {
    id: '0100_anchor_proofs',
    sql: `
CREATE TABLE anchor_proofs (
  kind smallint NOT NULL,
  seq bigint NOT NULL,
  batch_sequence bigint NOT NULL,
  batch_index integer NOT NULL CHECK (batch_index >= 0),
  proof bytea NOT NULL,
  PRIMARY KEY (kind, seq)
);
INSERT INTO anchor_proofs (kind, seq, batch_sequence, batch_index, proof)
  SELECT 0, seq, batch_sequence, batch_index, proof FROM record_versions WHERE batch_sequence IS NOT NULL;
INSERT INTO anchor_proofs (kind, seq, batch_sequence, batch_index, proof)
  SELECT 1, seq, batch_sequence, batch_index, proof FROM audit_events WHERE batch_sequence IS NOT NULL;
DROP INDEX record_versions_unbatched;
DROP INDEX audit_events_unbatched;
-- One line each: migrate() splits statements at a ';' that ends a line.
CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF TG_OP = 'DELETE' THEN RAISE EXCEPTION 'audit_events is append-only'; END IF; IF NEW.seq IS DISTINCT FROM OLD.seq OR NEW.recorded IS DISTINCT FROM OLD.recorded OR NEW.action IS DISTINCT FROM OLD.action OR NEW.outcome IS DISTINCT FROM OLD.outcome OR NEW.patient_index IS DISTINCT FROM OLD.patient_index OR NEW.agent_index IS DISTINCT FROM OLD.agent_index OR NEW.ciphertext IS DISTINCT FROM OLD.ciphertext OR NEW.content_commitment IS DISTINCT FROM OLD.content_commitment OR NEW.leaf IS DISTINCT FROM OLD.leaf THEN RAISE EXCEPTION 'audit_events is append-only'; END IF; RETURN NEW; END $$;
ALTER TABLE record_versions DROP COLUMN batch_sequence, DROP COLUMN batch_index, DROP COLUMN proof;
ALTER TABLE audit_events DROP COLUMN batch_sequence, DROP COLUMN batch_index, DROP COLUMN proof;
CREATE FUNCTION anchor_proofs_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'anchor_proofs is append-only'; END $$;
CREATE TRIGGER anchor_proofs_append_only BEFORE UPDATE OR DELETE ON anchor_proofs
  FOR EACH ROW EXECUTE FUNCTION anchor_proofs_append_only();
CREATE TRIGGER anchor_proofs_no_truncate BEFORE TRUNCATE ON anchor_proofs
  FOR EACH STATEMENT EXECUTE FUNCTION anchor_proofs_append_only();
`,
  },
];
