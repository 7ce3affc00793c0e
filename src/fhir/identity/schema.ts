/**
 * A patient's chain identity, kept apart from the Patient resource: `patient_identities` binds
 * one Patient id to one chain address (unique both ways: two Patients never share an address, so
 * nobody takes over another's consent), and `patient_identity_changes` keeps every change with
 * how it was made (docs/identity.md). Addresses are pseudonymous; nothing else is kept here.
 * `patient_identity_backfill` says whether Patients stored before the table still await their
 * binding (scanned once, at the next start).
 */
import type { Migration } from '../../store/migrate.ts';

export const identityMigrations: readonly Migration[] = [
  {
    id: '0170_patient_identities',
    sql: `
CREATE TABLE patient_identities (
  patient_id text PRIMARY KEY,
  address text NOT NULL UNIQUE,
  method text NOT NULL,
  bound_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE patient_identity_changes (
  id bigserial PRIMARY KEY,
  patient_id text NOT NULL,
  old_address text,
  new_address text NOT NULL,
  method text NOT NULL CHECK (method IN ('created', 'claim', 'key-change', 'recorded')),
  changed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX patient_identity_changes_patient ON patient_identity_changes (patient_id, id);
CREATE TABLE patient_identity_backfill (pending boolean NOT NULL);
INSERT INTO patient_identity_backfill VALUES (true);
`,
  },
  {
    // A patient's restrictions on named clinicians (HIPAA 164.522(a), the right to request
    // restrictions): a restricted clinician gets no treatment access to her records.
    id: '0180_patient_restrictions',
    sql: `
CREATE TABLE patient_restrictions (
  patient_id text NOT NULL,
  practitioner text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (patient_id, practitioner)
);
`,
  },
];
