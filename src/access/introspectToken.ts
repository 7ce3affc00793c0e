/**
 * Token introspection (RFC 7662) at /auth/introspect: whether a token is active and what it
 * grants, for a resource server or app of this consortium. Only an authenticated client may ask
 * (a `private_key_jwt` assertion: a bare client_id proves nothing), and it learns nothing about
 * a token that is not active: revoked, expired, of a disabled user or revoked client, or unknown
 * are all `{"active": false}`. Revocations are read fresh here, not from the once-a-second cache
 * of the FHIR routes, so an answer is never staler than the database.
 */
import type { Queryable } from '../store/db.ts';
import { AccessError } from './AccessError.ts';
import type { AccessTokens } from './AccessTokens.ts';
import { authenticateClient } from './authenticateClient.ts';
import type { Principal } from './Principal.ts';
import { findRefreshToken } from './refreshTokens.ts';
import { databaseRevocations } from './revocations.ts';

export interface TokenEndpointContext {
  db: Queryable;
  tokens: AccessTokens;
  /** The audience of client assertions. */
  tokenEndpoint: string;
}

export type Introspection = { active: false } | ({ active: true } & Record<string, unknown>);

export async function introspectToken(
  ctx: TokenEndpointContext,
  form: Readonly<Record<string, string | undefined>>,
): Promise<Introspection> {
  const { confidential } = await authenticateClient(ctx.db, form, ctx.tokenEndpoint);
  if (!confidential)
    throw new AccessError(
      'ERR_ACCESS_CLIENT_INVALID',
      'introspection needs a client_assertion (private_key_jwt)',
    );
  if (!form.token) throw new AccessError('ERR_ACCESS_REQUEST_INVALID', 'token is required');
  const principal = await activeAccessToken(ctx, form.token);
  if (principal) {
    return {
      active: true,
      token_type: 'Bearer',
      scope: principal.scope,
      client_id: principal.clientId,
      sub: principal.subject,
      username: principal.kind === 'system' ? undefined : principal.subject,
      iss: ctx.tokens.issuer,
      aud: ctx.tokens.audience,
      exp: principal.expiresAt,
      iat: principal.issuedAt,
      jti: principal.tokenId,
      patient: principal.patient,
      fhirUser: principal.fhirUser,
    };
  }
  const refresh = await findRefreshToken(ctx.db, form.token);
  if (refresh) {
    return {
      active: true,
      token_type: 'refresh_token',
      scope: refresh.scope,
      client_id: refresh.clientId,
      sub: refresh.username,
      username: refresh.username,
      iss: ctx.tokens.issuer,
      exp: refresh.expiresAt,
      patient: refresh.patient,
    };
  }
  return { active: false };
}

async function activeAccessToken(ctx: TokenEndpointContext, token: string): Promise<Principal | undefined> {
  if (token.split('.').length !== 3) return undefined;
  let principal: Principal;
  try {
    principal = await ctx.tokens.verify(token);
  } catch (error) {
    if (error instanceof AccessError) return undefined;
    throw error;
  }
  if (await databaseRevocations(ctx.db).revoked(principal)) return undefined;
  return principal;
}
