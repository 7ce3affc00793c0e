/**
 * One-time authorization codes of the code flow (RFC 6749 §4.1) bound to a PKCE S256
 * challenge (RFC 7636), the client, its redirect URI and the user. Only a hash of the code
 * is stored; redeeming deletes it, so a code works once. The code also carries what the token
 * response needs later: the OpenID Connect `nonce` and an EHR launch's patient and encounter.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Queryable } from '../store/db.ts';
import { AccessError } from './AccessError.ts';

const CODE_LIFETIME_SECONDS = 60;

export interface CodeGrant {
  clientId: string;
  redirectUri: string;
  username: string;
  scope: string;
  codeChallenge: string;
  nonce?: string | undefined;
  launchPatient?: string | undefined;
  launchEncounter?: string | undefined;
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('base64url');

export async function createAuthorizationCode(db: Queryable, grant: CodeGrant): Promise<string> {
  const code = randomBytes(32).toString('base64url');
  await db.query(
    `INSERT INTO access_codes (code_hash, client_id, redirect_uri, username, scope, code_challenge, expires_at,
       nonce, launch_patient, launch_encounter)
     VALUES ($1, $2, $3, $4, $5, $6, now() + make_interval(secs => $7), $8, $9, $10)`,
    [
      sha256(code),
      grant.clientId,
      grant.redirectUri,
      grant.username,
      grant.scope,
      grant.codeChallenge,
      CODE_LIFETIME_SECONDS,
      grant.nonce ?? null,
      grant.launchPatient ?? null,
      grant.launchEncounter ?? null,
    ],
  );
  return code;
}

export interface RedeemCodeParameters {
  code: string;
  clientId: string;
  redirectUri: string;
  codeVerifier: string;
}

/** Consumes the code (whatever the outcome) and returns its grant if everything matches. */
export async function redeemAuthorizationCode(
  db: Queryable,
  parameters: RedeemCodeParameters,
): Promise<CodeGrant> {
  const rows = await db.query<{
    client_id: string;
    redirect_uri: string;
    username: string;
    scope: string;
    code_challenge: string;
    nonce: string | null;
    launch_patient: string | null;
    launch_encounter: string | null;
    expired: boolean;
  }>(
    `DELETE FROM access_codes WHERE code_hash = $1
     RETURNING client_id, redirect_uri, username, scope, code_challenge, nonce, launch_patient, launch_encounter,
       expires_at < now() AS expired`,
    [sha256(parameters.code)],
  );
  await db.query('DELETE FROM access_codes WHERE expires_at < now()');
  const row = rows[0];
  const invalid = (message: string) => new AccessError('ERR_ACCESS_GRANT_INVALID', message);
  if (!row || row.expired) throw invalid('the authorization code is invalid, expired or already used');
  if (row.client_id !== parameters.clientId || row.redirect_uri !== parameters.redirectUri) {
    throw invalid('the authorization code was issued to another client or redirect_uri');
  }
  const expected = Buffer.from(row.code_challenge);
  const actual = Buffer.from(sha256(parameters.codeVerifier));
  if (
    !/^[A-Za-z0-9\-._~]{43,128}$/.test(parameters.codeVerifier) ||
    expected.length !== actual.length ||
    !timingSafeEqual(expected, actual)
  ) {
    throw invalid('the code_verifier does not match the code_challenge');
  }
  return {
    clientId: row.client_id,
    redirectUri: row.redirect_uri,
    username: row.username,
    scope: row.scope,
    codeChallenge: row.code_challenge,
    nonce: row.nonce ?? undefined,
    launchPatient: row.launch_patient ?? undefined,
    launchEncounter: row.launch_encounter ?? undefined,
  };
}
