/**
 * People who log in at /auth/authorize: patients, and this institution's practitioners
 * (clinicians), privacy officers and registrars. The role bounds what a token can ever do; the
 * token's SMART scopes narrow it further, never widen it (authorizeAccess).
 */
import type { Queryable } from '../store/db.ts';
import { AccessError } from './AccessError.ts';
import { hashPassword, verifyPassword } from './passwords.ts';

export type UserRole = 'patient' | 'practitioner' | 'officer' | 'registrar';
export const USER_ROLES: readonly UserRole[] = ['patient', 'practitioner', 'officer', 'registrar'];

export interface UserAccount {
  username: string;
  role: UserRole;
  /** Chain address (lower-case hex), if the user has one. */
  address: string | undefined;
  /** FHIR id of the user's Patient or Practitioner resource. */
  fhirId: string | undefined;
}

export interface CreateUserParameters {
  username: string;
  password: string;
  role: UserRole;
  address?: string | undefined;
  fhirId?: string | undefined;
}

export async function createUser(db: Queryable, parameters: CreateUserParameters): Promise<UserAccount> {
  if (!USER_ROLES.includes(parameters.role)) {
    throw new AccessError('ERR_ACCESS_REQUEST_INVALID', `role must be one of ${USER_ROLES.join(', ')}`);
  }
  if (!/^[A-Za-z0-9._@-]{1,128}$/.test(parameters.username)) {
    throw new AccessError('ERR_ACCESS_REQUEST_INVALID', 'username: 1-128 letters, digits, or . _ @ -');
  }
  if (parameters.password.length < 8) {
    throw new AccessError('ERR_ACCESS_REQUEST_INVALID', 'the password must have at least 8 characters');
  }
  if (parameters.address !== undefined && !/^0x[0-9a-fA-F]{40}$/.test(parameters.address)) {
    throw new AccessError(
      'ERR_ACCESS_REQUEST_INVALID',
      '--address must be a 0x-prefixed 20-byte hex address',
    );
  }
  const { hash, salt } = await hashPassword(parameters.password);
  const user: UserAccount = {
    username: parameters.username,
    role: parameters.role,
    address: parameters.address?.toLowerCase(),
    fhirId: parameters.fhirId,
  };
  const rows = await db.query(
    `INSERT INTO access_users (username, password_hash, password_salt, role, chain_address, fhir_id)
     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (username) DO NOTHING RETURNING username`,
    [user.username, hash, salt, user.role, user.address ?? null, user.fhirId ?? null],
  );
  if (rows.length === 0)
    throw new AccessError('ERR_ACCESS_USER_EXISTS', `user ${user.username} already exists`);
  return user;
}

/** The account if the password is right; undefined otherwise (unknown user and wrong password alike). */
export async function authenticateUser(
  db: Queryable,
  username: string,
  password: string,
): Promise<UserAccount | undefined> {
  const rows = await db.query<{
    username: string;
    role: UserRole;
    chain_address: string | null;
    fhir_id: string | null;
    password_hash: Uint8Array;
    password_salt: Uint8Array;
    disabled: boolean;
  }>(
    `SELECT username, role, chain_address, fhir_id, password_hash, password_salt, disabled
     FROM access_users WHERE username = $1`,
    [username],
  );
  const row = rows[0];
  // Hash anyway when the user is unknown, so timing does not tell which usernames exist.
  const stored = row
    ? { hash: row.password_hash, salt: row.password_salt }
    : { hash: new Uint8Array(32), salt: new Uint8Array(16) };
  const ok = await verifyPassword(password, stored);
  if (!row || !ok || row.disabled) return undefined;
  return {
    username: row.username,
    role: row.role,
    address: row.chain_address ?? undefined,
    fhirId: row.fhir_id ?? undefined,
  };
}

export async function findUser(db: Queryable, username: string): Promise<UserAccount | undefined> {
  const rows = await db.query<{
    username: string;
    role: UserRole;
    chain_address: string | null;
    fhir_id: string | null;
  }>('SELECT username, role, chain_address, fhir_id FROM access_users WHERE username = $1 AND NOT disabled', [
    username,
  ]);
  const row = rows[0];
  return row
    ? {
        username: row.username,
        role: row.role,
        address: row.chain_address ?? undefined,
        fhirId: row.fhir_id ?? undefined,
      }
    : undefined;
}

/**
 * Changes a user's role; every token issued to them before the change stops working (the token
 * carries the role it was issued for). The previous role, or undefined when there is no such user.
 */
export async function setUserRole(
  db: Queryable,
  username: string,
  role: UserRole,
): Promise<{ previous: UserRole; user: UserAccount } | undefined> {
  if (!USER_ROLES.includes(role)) {
    throw new AccessError('ERR_ACCESS_REQUEST_INVALID', `role must be one of ${USER_ROLES.join(', ')}`);
  }
  const rows = await db.query<{ previous: UserRole; chain_address: string | null; fhir_id: string | null }>(
    `UPDATE access_users u SET role = $2, tokens_revoked_at = now()
       FROM (SELECT username, role FROM access_users WHERE username = $1 FOR UPDATE) old
     WHERE u.username = old.username
     RETURNING old.role AS previous, u.chain_address, u.fhir_id`,
    [username, role],
  );
  const row = rows[0];
  if (!row) return undefined;
  return {
    previous: row.previous,
    user: { username, role, address: row.chain_address ?? undefined, fhirId: row.fhir_id ?? undefined },
  };
}

export interface UpdateUserParameters {
  address?: string | undefined;
  fhirId?: string | undefined;
  password?: string | undefined;
}

/**
 * Changes a user's chain address, FHIR id or password. A new password or address ends the
 * tokens issued before (a token carries the address it was issued for). The user before and
 * after, or undefined when there is no such user.
 */
export async function updateUser(
  db: Queryable,
  username: string,
  parameters: UpdateUserParameters,
): Promise<{ previous: UserAccount; user: UserAccount } | undefined> {
  if (parameters.address !== undefined && !/^0x[0-9a-fA-F]{40}$/.test(parameters.address))
    throw new AccessError(
      'ERR_ACCESS_REQUEST_INVALID',
      '--address must be a 0x-prefixed 20-byte hex address',
    );
  if (parameters.password !== undefined && parameters.password.length < 8)
    throw new AccessError('ERR_ACCESS_REQUEST_INVALID', 'the password must have at least 8 characters');
  const hashed = parameters.password === undefined ? undefined : await hashPassword(parameters.password);
  const rows = await db.query<{
    role: UserRole;
    old_address: string | null;
    old_fhir_id: string | null;
    chain_address: string | null;
    fhir_id: string | null;
  }>(
    `UPDATE access_users u SET
       chain_address = COALESCE($2, u.chain_address),
       fhir_id = COALESCE($3, u.fhir_id),
       password_hash = COALESCE($4, u.password_hash),
       password_salt = COALESCE($5, u.password_salt),
       tokens_revoked_at = CASE WHEN $4::bytea IS NOT NULL OR ($2::text IS NOT NULL AND $2 IS DISTINCT FROM old.chain_address)
         THEN now() ELSE u.tokens_revoked_at END
       FROM (SELECT username, chain_address, fhir_id FROM access_users WHERE username = $1 FOR UPDATE) old
     WHERE u.username = old.username
     RETURNING u.role, old.chain_address AS old_address, old.fhir_id AS old_fhir_id, u.chain_address, u.fhir_id`,
    [
      username,
      parameters.address?.toLowerCase() ?? null,
      parameters.fhirId ?? null,
      hashed?.hash ?? null,
      hashed?.salt ?? null,
    ],
  );
  const row = rows[0];
  if (!row) return undefined;
  return {
    previous: {
      username,
      role: row.role,
      address: row.old_address ?? undefined,
      fhirId: row.old_fhir_id ?? undefined,
    },
    user: {
      username,
      role: row.role,
      address: row.chain_address ?? undefined,
      fhirId: row.fhir_id ?? undefined,
    },
  };
}
