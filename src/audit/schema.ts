/**
 * The audit log. Append-only: a trigger refuses deletes and changes to a recorded event,
 * so the only write is `tableAuditSink().append`. Columns beside `event` are copies for
 * queries (accounting of disclosures by patient, by agent, by time).
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
];
