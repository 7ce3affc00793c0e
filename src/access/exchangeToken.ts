/**
 * The token endpoint's logic (RFC 6749 §3.2), independent of HTTP: `client_credentials`
 * with a `private_key_jwt` assertion (SMART Backend Services), `authorization_code` with PKCE
 * for public apps (client_id only) and confidential asymmetric ones (client assertion), and
 * `refresh_token` with rotation. A user's token response carries the launch context (`patient`,
 * `encounter`), an OpenID Connect `id_token` for `openid`, and a refresh token for
 * `offline_access` / `online_access`.
 */
import type { Queryable } from '../store/db.ts';
import { AccessError } from './AccessError.ts';
import type { AccessTokens } from './AccessTokens.ts';
import { authenticateClient } from './authenticateClient.ts';
import { redeemAuthorizationCode } from './authorizationCodes.ts';
import {
  findRefreshToken,
  issueRefreshToken,
  type RefreshGrant,
  refreshTokenClientId,
  rotateRefreshToken,
  wantsRefreshToken,
} from './refreshTokens.ts';
import { intersectScopes, narrowScopes } from './scopes.ts';
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
  encounter?: string;
  fhirUser?: string;
  id_token?: string;
  refresh_token?: string;
}

type Form = Readonly<Record<string, string | undefined>>;

export async function exchangeToken(
  ctx: TokenExchangeContext,
  form: Readonly<Record<string, string | undefined>>,
): Promise<TokenResponse> {
  switch (form.grant_type) {
    case 'client_credentials':
      return clientCredentials(ctx, form);
    case 'authorization_code':
      return authorizationCode(ctx, form);
    case 'refresh_token':
      return refreshToken(ctx, form);
    default:
      throw new AccessError(
        'ERR_ACCESS_GRANT_TYPE_UNSUPPORTED',
        'grant_type must be client_credentials, authorization_code or refresh_token',
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

async function authorizationCode(ctx: TokenExchangeContext, form: Form): Promise<TokenResponse> {
  const { code, redirect_uri: redirectUri, code_verifier: codeVerifier } = form;
  if (!code || !redirectUri || !codeVerifier) {
    throw new AccessError('ERR_ACCESS_REQUEST_INVALID', 'code, redirect_uri and code_verifier are required');
  }
  const { client } = await authenticateClient(ctx.db, form, ctx.tokenEndpoint);
  const grant = await redeemAuthorizationCode(ctx.db, {
    code,
    clientId: client.clientId,
    redirectUri,
    codeVerifier,
  });
  return userTokens(
    ctx,
    {
      clientId: client.clientId,
      username: grant.username,
      scope: grant.scope,
      patient: grant.launchPatient,
      encounter: grant.launchEncounter,
    },
    { nonce: grant.nonce },
  );
}

async function refreshToken(ctx: TokenExchangeContext, form: Form): Promise<TokenResponse> {
  if (!form.refresh_token) throw new AccessError('ERR_ACCESS_REQUEST_INVALID', 'refresh_token is required');
  // RFC 6749 §6: a public client need not name itself; a client with keys still authenticates.
  let named = form;
  if (form.client_id === undefined && form.client_assertion === undefined) {
    const owner = await refreshTokenClientId(ctx.db, form.refresh_token);
    if (owner === undefined)
      throw new AccessError(
        'ERR_ACCESS_GRANT_INVALID',
        'the refresh token is invalid, expired, revoked or already used',
      );
    named = { ...form, client_id: owner };
  }
  const { client } = await authenticateClient(ctx.db, named, ctx.tokenEndpoint);
  // A scope beyond the grant is refused before the token is spent: the app keeps its token.
  const current = await findRefreshToken(ctx.db, form.refresh_token);
  let narrowed: string[] | undefined;
  if (form.scope !== undefined && current?.clientId === client.clientId) {
    narrowed = narrowScopes(form.scope, current.scope);
    if (!narrowed || narrowed.length === 0)
      throw new AccessError(
        'ERR_ACCESS_SCOPE_INVALID',
        'a refresh may narrow the granted scope, never widen it',
      );
  }
  const rotated = await rotateRefreshToken(ctx.db, form.refresh_token, client.clientId);
  const scope = narrowed?.join(' ') ?? rotated.grant.scope;
  return userTokens(ctx, { ...rotated.grant, scope }, { refreshToken: rotated.refreshToken });
}

/**
 * The access token (and id_token, refresh token) of a user's grant. `refreshToken` is the next
 * token of a rotated family; without it a new family starts if the scope asks for one.
 */
async function userTokens(
  ctx: TokenExchangeContext,
  grant: RefreshGrant,
  options: { nonce?: string | undefined; refreshToken?: string },
): Promise<TokenResponse> {
  const user = await findUser(ctx.db, grant.username);
  if (!user) throw new AccessError('ERR_ACCESS_GRANT_INVALID', 'the user of this grant no longer exists');
  const fhirUser =
    user.fhirId === undefined
      ? undefined
      : `${user.role === 'patient' ? 'Patient' : 'Practitioner'}/${user.fhirId}`;
  const patient = user.role === 'patient' ? user.fhirId : grant.patient;
  // A patient's chain address is her record's binding (it changes with $claim and $change-key):
  // it is what makes her someone's delegate.
  const address =
    user.role === 'patient' && user.fhirId !== undefined
      ? ((
          await ctx.db.query<{ address: string }>(
            'SELECT address FROM patient_identities WHERE patient_id = $1',
            [user.fhirId],
          )
        )[0]?.address ?? user.address)
      : user.address;
  const scopes = grant.scope.split(/\s+/);
  const issued = await ctx.tokens.issue({
    kind: user.role,
    subject: user.username,
    clientId: grant.clientId,
    scope: grant.scope,
    lifetimeSeconds: USER_TOKEN_LIFETIME_SECONDS,
    address,
    patient,
    fhirUser,
    internal: user.role !== 'patient',
  });
  const idToken = scopes.includes('openid')
    ? await ctx.tokens.issueIdToken({
        subject: user.username,
        clientId: grant.clientId,
        nonce: options.nonce,
        fhirUser:
          scopes.includes('fhirUser') && fhirUser !== undefined
            ? `${ctx.tokens.audience}/${fhirUser}`
            : undefined,
        lifetimeSeconds: USER_TOKEN_LIFETIME_SECONDS,
      })
    : undefined;
  const refresh =
    options.refreshToken ??
    (wantsRefreshToken(grant.scope) ? await issueRefreshToken(ctx.db, { ...grant, patient }) : undefined);
  return {
    access_token: issued.accessToken,
    token_type: 'Bearer' as const,
    expires_in: issued.expiresIn,
    scope: grant.scope,
    ...(patient === undefined ? {} : { patient }),
    ...(grant.encounter === undefined ? {} : { encounter: grant.encounter }),
    ...(fhirUser === undefined ? {} : { fhirUser }),
    ...(idToken === undefined ? {} : { id_token: idToken }),
    ...(refresh === undefined ? {} : { refresh_token: refresh }),
  };
}
