/**
 * The audit log. Append-only: a trigger refuses deletes and changes to a recorded event,
 * so the only write is `tableAuditSink().append`.
 *
 * `0031_audit_sealed` replaces the plaintext table of `0030_audit` (never released with data) by
 * the sealed log (docs/audit.md):
 * - `seq` is gap-free (1, 2, 3, ...) and committed in order: appends take a transaction-scoped
 *   advisory lock and use MAX(seq) + 1, so a missing number is a deleted event.
 * - The event (a FHIR AuditEvent) is encrypted like a record version; `ciphertext` is
 *   `iv ‖ ciphertext ‖ tag`, whose sha256 is the ciphertext hash. `leaf` commits to `seq`, the
 *   salted content commitment and the ciphertext hash, and is batched and anchored as kind 1.
 * - In clear only what is not identifying: `recorded`, `action`, `outcome`. Patient and agents are
 *   findable only through keyed HMAC blind indexes (`patient_index`, `agent_index`).
 * - The trigger allows exactly two updates: setting the batch columns once, and re-wrapping the
 *   data key under another KEK (rotation). Nothing else, and never a delete. Since
 *   `0100_anchor_proofs` (src/vault/schema.ts) batch columns are gone (proofs are rows of their
 *   own) and re-wrapping is the only update left.
 * - `audit_keys` holds the blind-index key, wrapped by the KEK.
 */
import type { Migration } from '../store/migrate.ts';

export const auditMigrations: readonly Migration[] = [
  {
    id: '0030_audit',
    sql: `
CREATE TABLE audit_events (
  seq bigserial PRIMARY KEY,
  recorded timestamptz NOT NULL,
  action char(1) NOT NULL,
  subtype text NOT NULL,
  outcome smallint NOT NULL,
  patient text,
  agent_client text,
  agent_user text,
  agent_address text,
  purpose text NOT NULL,
  consent_basis text,
  consent_block bigint,
  event jsonb NOT NULL
);
CREATE INDEX audit_events_patient ON audit_events (patient, recorded) WHERE patient IS NOT NULL;
-- One line: migrate() splits statements at a ';' that ends a line.
CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF TG_OP = 'DELETE' OR NEW.event IS DISTINCT FROM OLD.event OR NEW.recorded IS DISTINCT FROM OLD.recorded OR NEW.seq IS DISTINCT FROM OLD.seq THEN RAISE EXCEPTION 'audit_events is append-only'; END IF; RETURN NEW; END $$;
CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
  FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
`,
  },
  {
    id: '0031_audit_sealed',
    sql: `
DROP TABLE audit_events;
DROP FUNCTION audit_events_append_only();
CREATE TABLE audit_events (
  seq bigint PRIMARY KEY CHECK (seq > 0),
  recorded timestamptz NOT NULL,
  action char(1) NOT NULL,
  outcome smallint NOT NULL,
  patient_index bytea,
  agent_index bytea[] NOT NULL DEFAULT '{}',
  ciphertext bytea NOT NULL,
  wrapped_key bytea NOT NULL,
  kek_id text NOT NULL,
  content_commitment bytea NOT NULL,
  leaf bytea NOT NULL,
  batch_sequence bigint,
  batch_index integer,
  proof bytea
);
CREATE INDEX audit_events_patient ON audit_events (patient_index, seq) WHERE patient_index IS NOT NULL;
CREATE INDEX audit_events_agent ON audit_events USING gin (agent_index);
CREATE INDEX audit_events_recorded ON audit_events (recorded);
CREATE INDEX audit_events_unbatched ON audit_events (seq) WHERE batch_sequence IS NULL;
CREATE TABLE audit_keys (
  purpose text PRIMARY KEY,
  wrapped_key bytea NOT NULL,
  kek_id text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
-- One line each: migrate() splits statements at a ';' that ends a line.
CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF TG_OP = 'DELETE' THEN RAISE EXCEPTION 'audit_events is append-only'; END IF; IF NEW.seq IS DISTINCT FROM OLD.seq OR NEW.recorded IS DISTINCT FROM OLD.recorded OR NEW.action IS DISTINCT FROM OLD.action OR NEW.outcome IS DISTINCT FROM OLD.outcome OR NEW.patient_index IS DISTINCT FROM OLD.patient_index OR NEW.agent_index IS DISTINCT FROM OLD.agent_index OR NEW.ciphertext IS DISTINCT FROM OLD.ciphertext OR NEW.content_commitment IS DISTINCT FROM OLD.content_commitment OR NEW.leaf IS DISTINCT FROM OLD.leaf THEN RAISE EXCEPTION 'audit_events is append-only'; END IF; IF OLD.batch_sequence IS NOT NULL AND (NEW.batch_sequence IS DISTINCT FROM OLD.batch_sequence OR NEW.batch_index IS DISTINCT FROM OLD.batch_index OR NEW.proof IS DISTINCT FROM OLD.proof) THEN RAISE EXCEPTION 'audit_events is append-only: batch columns are set once'; END IF; RETURN NEW; END $$;
CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
  FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
CREATE FUNCTION audit_events_no_truncate() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'audit_events is append-only'; END $$;
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
  FOR EACH STATEMENT EXECUTE FUNCTION audit_events_no_truncate();
`,
  },
];

/**
 * `0110_audit_event_patients`: an event names every patient whose data its request touched (a
 * search across patients, a batch, an export, an import), not only the first. `patient_index` stays
 * the first patient's blind index; `patient_indexes` holds the others' (NULL when there are none),
 * GIN-indexed so each patient's access report finds the event. Both are checked against the
 * event's sealed content on every read, and are append-only like the other columns. Runs after
 * `0100_anchor_proofs`, which last redefined the trigger function.
 */
export const auditPatientMigrations: readonly Migration[] = [
  {
    id: '0110_audit_event_patients',
    sql: `
ALTER TABLE audit_events ADD COLUMN patient_indexes bytea[];
CREATE INDEX audit_events_patients ON audit_events USING gin (patient_indexes) WHERE patient_indexes IS NOT NULL;
-- One line: migrate() splits statements at a ';' that ends a line.
CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF TG_OP = 'DELETE' THEN RAISE EXCEPTION 'audit_events is append-only'; END IF; IF NEW.seq IS DISTINCT FROM OLD.seq OR NEW.recorded IS DISTINCT FROM OLD.recorded OR NEW.action IS DISTINCT FROM OLD.action OR NEW.outcome IS DISTINCT FROM OLD.outcome OR NEW.patient_index IS DISTINCT FROM OLD.patient_index OR NEW.patient_indexes IS DISTINCT FROM OLD.patient_indexes OR NEW.agent_index IS DISTINCT FROM OLD.agent_index OR NEW.ciphertext IS DISTINCT FROM OLD.ciphertext OR NEW.content_commitment IS DISTINCT FROM OLD.content_commitment OR NEW.leaf IS DISTINCT FROM OLD.leaf THEN RAISE EXCEPTION 'audit_events is append-only'; END IF; RETURN NEW; END $$;
`,
  },
];
