/**
 * Authenticates a backend client by its signed assertion (RFC 7523 §2.2, SMART Backend
 * Services): iss == sub == client_id, aud == the token endpoint, exp at most five minutes
 * ahead, a jti never seen before (kept until it expires), signed ES384 or RS384 with a key
 * from the client's registered JWKS.
 */
import { createLocalJWKSet, decodeJwt, jwtVerify } from 'jose';
import type { Queryable } from '../store/db.ts';
import { AccessError } from './AccessError.ts';
import { type AccessClient, findClient } from './clients.ts';

export const CLIENT_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
const MAX_LIFETIME_SECONDS = 300;
const CLOCK_TOLERANCE_SECONDS = 10;

export interface ClientAssertionParameters {
  assertion: string;
  /** The token endpoint URL the assertion must be addressed to. */
  tokenEndpoint: string;
  now?: number;
}

export async function verifyClientAssertion(
  db: Queryable,
  { assertion, tokenEndpoint, now = Math.floor(Date.now() / 1000) }: ClientAssertionParameters,
): Promise<AccessClient> {
  const invalid = (message: string, cause?: unknown) =>
    new AccessError('ERR_ACCESS_CLIENT_INVALID', message, cause);
  let claimed: string;
  try {
    const unverified = decodeJwt(assertion);
    if (typeof unverified.iss !== 'string') throw new Error('no iss');
    claimed = unverified.iss;
  } catch (error) {
    throw invalid('the client assertion is not a JWT with an issuer', error);
  }
  const client = await findClient(db, claimed);
  if (client?.kind !== 'backend' || client.disabled || !client.jwks) {
    throw invalid('unknown or disabled client');
  }
  let payload: Record<string, unknown>;
  try {
    ({ payload } = await jwtVerify(assertion, createLocalJWKSet(client.jwks), {
      algorithms: ['ES384', 'RS384'],
      issuer: client.clientId,
      subject: client.clientId,
      audience: tokenEndpoint,
      requiredClaims: ['exp', 'jti'],
      currentDate: new Date(now * 1000),
      clockTolerance: CLOCK_TOLERANCE_SECONDS,
    }));
  } catch (error) {
    throw invalid('the client assertion failed verification', error);
  }
  const exp = Number(payload.exp);
  if (exp > now + MAX_LIFETIME_SECONDS + CLOCK_TOLERANCE_SECONDS) {
    throw invalid('the client assertion expires more than five minutes ahead');
  }
  const jti = String(payload.jti);
  await db.query('DELETE FROM access_used_jtis WHERE expires_at < now()');
  const fresh = await db.query(
    `INSERT INTO access_used_jtis (client_id, jti, expires_at) VALUES ($1, $2, to_timestamp($3))
     ON CONFLICT DO NOTHING RETURNING jti`,
    [client.clientId, jti, exp + CLOCK_TOLERANCE_SECONDS],
  );
  if (fresh.length === 0) throw invalid('the client assertion was already used (jti replay)');
  return client;
}
