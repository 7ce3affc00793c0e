/**
 * The authorization endpoint's logic (RFC 6749 §4.1.1, SMART standalone launch): check the
 * request (registered public client, exact redirect URI, PKCE S256, audience), then, once
 * the user has logged in, issue a one-time code for the scopes the user's role may hold.
 */
import type { Queryable } from '../store/db.ts';
import { AccessError } from './AccessError.ts';
import { createAuthorizationCode } from './authorizationCodes.ts';
import { findClient } from './clients.ts';
import { intersectScopes } from './scopes.ts';
import { authenticateUser } from './users.ts';

export interface AuthorizeParameters {
  clientId: string;
  redirectUri: string;
  scope: string;
  state: string | undefined;
  codeChallenge: string;
  aud: string;
}

/** Non-resource scopes passed through when requested. */
const PASS_THROUGH = new Set(['launch/patient', 'fhirUser', 'openid']);

/**
 * Validates the query of GET/POST /auth/authorize. Errors about the client or the redirect
 * URI must not redirect (RFC 6749 §4.1.2.1): they are thrown as AccessError.
 */
export async function checkAuthorizeRequest(
  db: Queryable,
  query: Readonly<Record<string, string | undefined>>,
  fhirBaseUrl: string,
): Promise<AuthorizeParameters> {
  const client = query.client_id ? await findClient(db, query.client_id) : undefined;
  if (client?.kind !== 'public' || client.disabled) {
    throw new AccessError('ERR_ACCESS_CLIENT_INVALID', 'unknown client_id');
  }
  if (!query.redirect_uri || !client.redirectUris.includes(query.redirect_uri)) {
    throw new AccessError('ERR_ACCESS_REQUEST_INVALID', 'redirect_uri is not registered for this client');
  }
  if (query.response_type !== 'code')
    throw new AccessError('ERR_ACCESS_REQUEST_INVALID', 'response_type must be code');
  if (query.code_challenge_method !== 'S256' || !/^[A-Za-z0-9_-]{43}$/.test(query.code_challenge ?? '')) {
    throw new AccessError(
      'ERR_ACCESS_REQUEST_INVALID',
      'PKCE is required: code_challenge with code_challenge_method=S256',
    );
  }
  if (query.aud !== undefined && query.aud.replace(/\/+$/, '') !== fhirBaseUrl) {
    throw new AccessError(
      'ERR_ACCESS_REQUEST_INVALID',
      `aud must be this server's FHIR base URL ${fhirBaseUrl}`,
    );
  }
  if (!query.scope) throw new AccessError('ERR_ACCESS_SCOPE_INVALID', 'scope is required');
  return {
    clientId: client.clientId,
    redirectUri: query.redirect_uri,
    scope: query.scope,
    state: query.state,
    codeChallenge: query.code_challenge!,
    aud: query.aud ?? fhirBaseUrl,
  };
}

export type LoginResult = { ok: true; redirectTo: string } | { ok: false; reason: 'invalid_login' };

/** Checks the user's password; on success returns the redirect carrying the code (or an OAuth error). */
export async function completeAuthorization(
  db: Queryable,
  parameters: AuthorizeParameters,
  username: string,
  password: string,
): Promise<LoginResult> {
  const user = await authenticateUser(db, username, password);
  if (!user) return { ok: false, reason: 'invalid_login' };
  const client = await findClient(db, parameters.clientId);
  const context = user.role === 'patient' ? 'patient/' : 'user/';
  const resourceScopes = intersectScopes(parameters.scope, client?.scopes ?? '').filter((s) =>
    s.startsWith(context),
  );
  const redirect = new URL(parameters.redirectUri);
  if (parameters.state !== undefined) redirect.searchParams.set('state', parameters.state);
  if (resourceScopes.length === 0) {
    redirect.searchParams.set('error', 'invalid_scope');
    return { ok: true, redirectTo: redirect.toString() };
  }
  const extra = parameters.scope.split(/\s+/).filter((s) => PASS_THROUGH.has(s));
  const code = await createAuthorizationCode(db, {
    clientId: parameters.clientId,
    redirectUri: parameters.redirectUri,
    username: user.username,
    scope: [...resourceScopes, ...extra].join(' '),
    codeChallenge: parameters.codeChallenge,
  });
  redirect.searchParams.set('code', code);
  return { ok: true, redirectTo: redirect.toString() };
}
