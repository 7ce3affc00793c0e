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
 * - `access_refresh_tokens`: refresh tokens (SHA-256 only), one row per token of a rotation
 *   family; a rotated row is kept (until it expires) so that its reuse revokes the family.
 * - `access_launches`: EHR launch contexts (`POST /auth/launch`), SHA-256 of the launch value.
 * - `access_patient_picks`: the choices of a practitioner's patient picker (standalone launch
 *   with `launch/patient`), one per listed patient, SHA-256 only, bound to user and client.
 * - `access_revoked_tokens`: ids (`jti`) of access tokens revoked at /auth/revoke, kept until
 *   the token would have expired.
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
    // SMART App Launch 2.x: OpenID Connect nonce and launch context carried by the code,
    // refresh tokens with rotation, EHR launch contexts, revoked access tokens (RFC 7009).
    id: '0140_access_smart',
    sql: `
ALTER TABLE access_codes ADD COLUMN nonce text;
ALTER TABLE access_codes ADD COLUMN launch_patient text;
ALTER TABLE access_codes ADD COLUMN launch_encounter text;
CREATE TABLE access_refresh_tokens (
  token_hash text PRIMARY KEY,
  family_id text NOT NULL,
  client_id text NOT NULL,
  username text NOT NULL,
  scope text NOT NULL,
  patient text,
  encounter text,
  family_issued_at timestamptz NOT NULL,
  expires_at timestamptz NOT NULL,
  rotated_at timestamptz,
  revoked boolean NOT NULL DEFAULT false
);
CREATE INDEX access_refresh_tokens_family ON access_refresh_tokens (family_id);
CREATE INDEX access_refresh_tokens_expiry ON access_refresh_tokens (expires_at);
CREATE TABLE access_launches (
  launch_hash text PRIMARY KEY,
  username text NOT NULL,
  patient text NOT NULL,
  encounter text,
  expires_at timestamptz NOT NULL
);
CREATE TABLE access_patient_picks (
  pick_hash text PRIMARY KEY,
  username text NOT NULL,
  client_id text NOT NULL,
  patient text NOT NULL,
  expires_at timestamptz NOT NULL
);
CREATE TABLE access_revoked_tokens (
  jti text PRIMARY KEY,
  expires_at timestamptz NOT NULL
);
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
