/**
 * Tables of authentication (SMART App Launch / Backend Services).
 *
 * - `access_clients`: OAuth clients. `backend` clients authenticate with `private_key_jwt`
 *   against their registered JWKS; `public` clients (portal apps) use the code flow with PKCE
 *   and registered redirect URIs. `member_address` marks a backend client acting for another
 *   member institution (it then needs consent like any outsider).
 * - `access_users`: people who log in at /auth/authorize; scrypt password hash with a per-user salt.
 * - `access_used_jtis`: client-assertion ids seen, kept until they expire (replay guard).
 * - `access_codes`: one-time authorization codes, stored only as their SHA-256.
 */
import type { Migration } from '../store/migrate.ts';

export const accessMigrations: readonly Migration[] = [
  {
    id: '0020_access',
    sql: `
CREATE TABLE access_clients (
  client_id text PRIMARY KEY,
  kind text NOT NULL CHECK (kind IN ('backend', 'public')),
  name text NOT NULL,
  scopes text NOT NULL,
  jwks jsonb,
  redirect_uris jsonb NOT NULL DEFAULT '[]'::jsonb,
  member_address text,
  created_at timestamptz NOT NULL DEFAULT now(),
  disabled boolean NOT NULL DEFAULT false,
  CHECK (kind <> 'backend' OR jwks IS NOT NULL)
);
CREATE TABLE access_users (
  username text PRIMARY KEY,
  password_hash bytea NOT NULL,
  password_salt bytea NOT NULL,
  role text NOT NULL CHECK (role IN ('patient', 'practitioner', 'officer')),
  chain_address text,
  fhir_id text,
  created_at timestamptz NOT NULL DEFAULT now(),
  disabled boolean NOT NULL DEFAULT false
);
CREATE TABLE access_used_jtis (
  client_id text NOT NULL,
  jti text NOT NULL,
  expires_at timestamptz NOT NULL,
  PRIMARY KEY (client_id, jti)
);
CREATE INDEX access_used_jtis_expiry ON access_used_jtis (expires_at);
CREATE TABLE access_codes (
  code_hash text PRIMARY KEY,
  client_id text NOT NULL,
  redirect_uri text NOT NULL,
  username text NOT NULL,
  scope text NOT NULL,
  code_challenge text NOT NULL,
  expires_at timestamptz NOT NULL
);
`,
  },
  {
    // Revocation: disabling a user or revoking a client also ends every token issued to it
    // before that instant (tokens are checked against these on every request, within seconds).
    id: '0120_access_revocation',
    sql: `
ALTER TABLE access_users ADD COLUMN tokens_revoked_at timestamptz;
ALTER TABLE access_clients ADD COLUMN tokens_revoked_at timestamptz;
`,
  },
  {
    // Registrars: the institution's registration desk (patient demographics, not clinical records).
    id: '0150_access_registrar_role',
    sql: `
ALTER TABLE access_users DROP CONSTRAINT access_users_role_check;
ALTER TABLE access_users ADD CONSTRAINT access_users_role_check
  CHECK (role IN ('patient', 'practitioner', 'officer', 'registrar'));
`,
  },
];
