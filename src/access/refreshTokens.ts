/**
 * Refresh tokens (RFC 6749 §6, SMART `offline_access` / `online_access`): opaque random values,
 * stored only as their SHA-256. Every use rotates: the presented token is spent and a new one of
 * the same family is returned. A spent token presented again means two parties hold the family
 * (a stolen copy, or the app's own copy raced): the whole family is revoked (OAuth 2.0 Security
 * BCP §4.14). A token is refused once its user is disabled or its client revoked, including
 * after the user is enabled again (tokens_revoked_at after the family's start).
 *
 * `offline_access` families live as long as they are used: each token 90 days from its issue.
 * `online_access` families end 12 hours after the login, however often they are refreshed (this
 * server keeps no login session of its own; the login is the session).
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Queryable } from '../store/db.ts';
import { AccessError } from './AccessError.ts';

export const OFFLINE_LIFETIME_SECONDS = 90 * 24 * 3600;
export const ONLINE_LIFETIME_SECONDS = 12 * 3600;

export interface RefreshGrant {
  clientId: string;
  username: string;
  /** The scope granted at login: a refresh may narrow it for one access token, never widen it. */
  scope: string;
  patient?: string | undefined;
  encounter?: string | undefined;
}

interface Family {
  id: string;
  issuedAt: string;
  /** An online family's fixed end; undefined for offline (each token 90 days). */
  expiresAt: string | undefined;
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('base64url');
const online = (scope: string) => !scope.split(/\s+/).includes('offline_access');

/** Whether the granted scope asks for a refresh token. */
export function wantsRefreshToken(scope: string): boolean {
  const scopes = scope.split(/\s+/);
  return scopes.includes('offline_access') || scopes.includes('online_access');
}

export async function issueRefreshToken(
  db: Queryable,
  grant: RefreshGrant,
  family?: Family,
): Promise<string> {
  const token = randomBytes(32).toString('base64url');
  const lifetime = online(grant.scope) ? ONLINE_LIFETIME_SECONDS : OFFLINE_LIFETIME_SECONDS;
  // Spent and dead rows are kept only while their reuse could still be detected.
  await db.query('DELETE FROM access_refresh_tokens WHERE expires_at < now()');
  await db.query(
    `INSERT INTO access_refresh_tokens
       (token_hash, family_id, client_id, username, scope, patient, encounter, family_issued_at, expires_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, COALESCE($8::timestamptz, now()),
       COALESCE($9::timestamptz, now() + make_interval(secs => $10)))`,
    [
      sha256(token),
      family?.id ?? randomUUID(),
      grant.clientId,
      grant.username,
      grant.scope,
      grant.patient ?? null,
      grant.encounter ?? null,
      family?.issuedAt ?? null,
      family?.expiresAt ?? null,
      lifetime,
    ],
  );
  return token;
}

interface Row {
  family_id: string;
  client_id: string;
  username: string;
  scope: string;
  patient: string | null;
  encounter: string | null;
  family_issued_at: string;
  expires_at: string;
  exp: number;
}

/** A token still usable: not spent, not revoked, not expired, its user and client in good standing. */
const USABLE = `NOT r.revoked AND r.rotated_at IS NULL AND r.expires_at > now()
  AND EXISTS (SELECT 1 FROM access_users u WHERE u.username = r.username AND NOT u.disabled
    AND (u.tokens_revoked_at IS NULL OR u.tokens_revoked_at < r.family_issued_at))
  AND EXISTS (SELECT 1 FROM access_clients c WHERE c.client_id = r.client_id AND NOT c.disabled
    AND (c.tokens_revoked_at IS NULL OR c.tokens_revoked_at < r.family_issued_at))`;
const COLUMNS = `r.family_id, r.client_id, r.username, r.scope, r.patient, r.encounter,
  r.family_issued_at::text AS family_issued_at, r.expires_at::text AS expires_at,
  extract(epoch FROM r.expires_at)::float8 AS exp`;

const grantOf = (row: Row): RefreshGrant => ({
  clientId: row.client_id,
  username: row.username,
  scope: row.scope,
  patient: row.patient ?? undefined,
  encounter: row.encounter ?? undefined,
});

/**
 * Spends the token and returns its grant with the next token of the family. Throws invalid_grant
 * for anything not usable by this client; a spent token presented again revokes its family.
 */
export async function rotateRefreshToken(
  db: Queryable,
  token: string,
  clientId: string,
): Promise<{ grant: RefreshGrant; refreshToken: string }> {
  const hash = sha256(token);
  const rows = await db.query<Row>(
    `UPDATE access_refresh_tokens r SET rotated_at = now()
     WHERE r.token_hash = $1 AND r.client_id = $2 AND ${USABLE}
     RETURNING ${COLUMNS}`,
    [hash, clientId],
  );
  const row = rows[0];
  if (!row) {
    await db.query(
      `UPDATE access_refresh_tokens SET revoked = true
       WHERE family_id IN (SELECT family_id FROM access_refresh_tokens WHERE token_hash = $1 AND rotated_at IS NOT NULL)`,
      [hash],
    );
    throw new AccessError(
      'ERR_ACCESS_GRANT_INVALID',
      'the refresh token is invalid, expired, revoked or already used',
    );
  }
  const grant = grantOf(row);
  const refreshToken = await issueRefreshToken(db, grant, {
    id: row.family_id,
    issuedAt: row.family_issued_at,
    expiresAt: online(row.scope) ? row.expires_at : undefined,
  });
  return { grant, refreshToken };
}

/**
 * The client a refresh token (usable, spent or revoked) was issued to. A public client may
 * refresh without naming itself (fhirclient sends only the token): the token names it.
 */
export async function refreshTokenClientId(db: Queryable, token: string): Promise<string | undefined> {
  const rows = await db.query<{ client_id: string }>(
    'SELECT client_id FROM access_refresh_tokens WHERE token_hash = $1',
    [sha256(token)],
  );
  return rows[0]?.client_id;
}

/** For introspection: the grant and expiry (unix seconds) of a usable token, else undefined. */
export async function findRefreshToken(
  db: Queryable,
  token: string,
): Promise<(RefreshGrant & { expiresAt: number }) | undefined> {
  const rows = await db.query<Row>(
    `SELECT ${COLUMNS} FROM access_refresh_tokens r WHERE r.token_hash = $1 AND ${USABLE}`,
    [sha256(token)],
  );
  const row = rows[0];
  return row ? { ...grantOf(row), expiresAt: Math.floor(Number(row.exp)) } : undefined;
}

/** RFC 7009: revokes the token's whole family, if the token was issued to this client. */
export async function revokeRefreshToken(db: Queryable, token: string, clientId: string): Promise<boolean> {
  const rows = await db.query(
    `UPDATE access_refresh_tokens SET revoked = true
     WHERE family_id IN (SELECT family_id FROM access_refresh_tokens WHERE token_hash = $1 AND client_id = $2)
     RETURNING 1`,
    [sha256(token), clientId],
  );
  return rows.length > 0;
}
