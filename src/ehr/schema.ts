/**
 * Tables of EHR import. `ehr_import_ledger` makes an import repeatable and resumable: one row
 * per imported unit (a Bundle entry or an NDJSON line) of a file identified by its content
 * hash, written in the database transaction that stored the unit's resource, so a re-run skips
 * exactly what committed. `ehr_patient_claims` holds the one-time claim codes (as SHA-256
 * hashes only) of patients whose chain address was generated at import (docs/import.md). The codes
 * are patient identity and their code is `fhir/identity/patientClaims.ts`; the table was created
 * here with the import's, in 0050, and keeps that name and place (a migration is never edited).
 */
import type { Migration } from '../store/migrate.ts';

export const ehrMigrations: readonly Migration[] = [
  {
    id: '0050_ehr_import',
    sql: `
CREATE TABLE ehr_import_ledger (
  content_hash text NOT NULL,
  unit text NOT NULL,
  resource_type text NOT NULL,
  reference text NOT NULL,
  full_url text,
  imported_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (content_hash, unit)
);
CREATE TABLE ehr_patient_claims (
  patient_id text PRIMARY KEY,
  generated_address text NOT NULL,
  code_hash bytea NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  claimed_at timestamptz,
  claimed_address text
);
`,
  },
];
