/**
 * The token endpoint's logic (RFC 6749 §3.2), independent of HTTP: `client_credentials`
 * with a `private_key_jwt` assertion (SMART Backend Services) and `authorization_code`
 * with PKCE for public apps (SMART App Launch, standalone launch).
 */
import type { Queryable } from '../store/db.ts';
import { AccessError } from './AccessError.ts';
import type { AccessTokens } from './AccessTokens.ts';
import { redeemAuthorizationCode } from './authorizationCodes.ts';
import { findClient } from './clients.ts';
import { intersectScopes } from './scopes.ts';
import { findUser } from './users.ts';
import { CLIENT_ASSERTION_TYPE, verifyClientAssertion } from './verifyClientAssertion.ts';

export const BACKEND_TOKEN_LIFETIME_SECONDS = 300;
export const USER_TOKEN_LIFETIME_SECONDS = 3600;

export interface TokenExchangeContext {
  db: Queryable;
  tokens: AccessTokens;
  /** Absolute URL of the token endpoint: the audience of client assertions. */
  tokenEndpoint: string;
  /** This node's chain address (lower-case). */
  custodian: string;
}

/** RFC 6749 §5.1 plus SMART's launch context. */
export interface TokenResponse {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  scope: string;
  patient?: string;
  fhirUser?: string;
}

export async function exchangeToken(
  ctx: TokenExchangeContext,
  form: Readonly<Record<string, string | undefined>>,
): Promise<TokenResponse> {
  switch (form.grant_type) {
    case 'client_credentials':
      return clientCredentials(ctx, form);
    case 'authorization_code':
      return authorizationCode(ctx, form);
    default:
      throw new AccessError(
        'ERR_ACCESS_GRANT_TYPE_UNSUPPORTED',
        'grant_type must be client_credentials or authorization_code',
      );
  }
}

async function clientCredentials(
  ctx: TokenExchangeContext,
  form: Readonly<Record<string, string | undefined>>,
) {
  if (form.client_assertion_type !== CLIENT_ASSERTION_TYPE || !form.client_assertion) {
    throw new AccessError(
      'ERR_ACCESS_CLIENT_INVALID',
      `client_assertion_type must be ${CLIENT_ASSERTION_TYPE}, with a client_assertion`,
    );
  }
  const client = await verifyClientAssertion(ctx.db, {
    assertion: form.client_assertion,
    tokenEndpoint: ctx.tokenEndpoint,
  });
  if (!form.scope) throw new AccessError('ERR_ACCESS_SCOPE_INVALID', 'scope is required');
  const granted = intersectScopes(form.scope, client.scopes).filter((s) => s.startsWith('system/'));
  if (granted.length === 0)
    throw new AccessError(
      'ERR_ACCESS_SCOPE_INVALID',
      'none of the requested scopes is allowed for this client',
    );
  const scope = granted.join(' ');
  const internal = client.memberAddress === undefined || client.memberAddress === ctx.custodian.toLowerCase();
  const issued = await ctx.tokens.issue({
    kind: 'system',
    subject: client.clientId,
    clientId: client.clientId,
    scope,
    lifetimeSeconds: BACKEND_TOKEN_LIFETIME_SECONDS,
    address: client.memberAddress,
    internal,
  });
  return {
    access_token: issued.accessToken,
    token_type: 'Bearer' as const,
    expires_in: issued.expiresIn,
    scope,
  };
}

async function authorizationCode(
  ctx: TokenExchangeContext,
  form: Readonly<Record<string, string | undefined>>,
) {
  const { code, client_id: clientId, redirect_uri: redirectUri, code_verifier: codeVerifier } = form;
  if (!code || !clientId || !redirectUri || !codeVerifier) {
    throw new AccessError(
      'ERR_ACCESS_REQUEST_INVALID',
      'code, client_id, redirect_uri and code_verifier are required',
    );
  }
  const client = await findClient(ctx.db, clientId);
  if (client?.kind !== 'public' || client.disabled)
    throw new AccessError('ERR_ACCESS_CLIENT_INVALID', 'unknown client');
  const grant = await redeemAuthorizationCode(ctx.db, { code, clientId, redirectUri, codeVerifier });
  const user = await findUser(ctx.db, grant.username);
  if (!user) throw new AccessError('ERR_ACCESS_GRANT_INVALID', 'the user of this code no longer exists');
  const fhirUser =
    user.fhirId === undefined
      ? undefined
      : `${user.role === 'patient' ? 'Patient' : 'Practitioner'}/${user.fhirId}`;
  const patient = user.role === 'patient' ? user.fhirId : undefined;
  const issued = await ctx.tokens.issue({
    kind: user.role,
    subject: user.username,
    clientId,
    scope: grant.scope,
    lifetimeSeconds: USER_TOKEN_LIFETIME_SECONDS,
    address: user.address,
    patient,
    fhirUser,
    internal: user.role !== 'patient',
  });
  return {
    access_token: issued.accessToken,
    token_type: 'Bearer' as const,
    expires_in: issued.expiresIn,
    scope: grant.scope,
    ...(patient === undefined ? {} : { patient }),
    ...(fhirUser === undefined ? {} : { fhirUser }),
  };
}
