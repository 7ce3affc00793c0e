/**
 * The authorization endpoint's logic (RFC 6749 §4.1.1, SMART standalone and EHR launch): check
 * the request (registered client, exact redirect URI, PKCE S256, audience, launch), then, once
 * the user has logged in, issue a one-time code for the scopes the user's role may hold.
 *
 * Errors about the client or the redirect URI are shown here and never redirected (RFC 6749
 * §4.1.2.1: the redirect URI is not trusted yet); every other error goes back to the app as a
 * redirect with `error`, `error_description` and `state`, so the app can tell its user.
 */
import type { Queryable } from '../store/db.ts';
import { AccessError } from './AccessError.ts';
import { createAuthorizationCode } from './authorizationCodes.ts';
import { findClient } from './clients.ts';
import { findLaunchContext, type LaunchContext } from './launchContexts.ts';
import type { PatientPicker, PickablePatient } from './PatientPicker.ts';
import { createPatientPick, redeemPatientPick } from './patientPicks.ts';
import { intersectScopes } from './scopes.ts';
import { authenticateUser, findUser, type UserAccount } from './users.ts';

export interface AuthorizeParameters {
  clientId: string;
  redirectUri: string;
  scope: string;
  state: string | undefined;
  codeChallenge: string;
  aud: string;
  /** OpenID Connect nonce, echoed in the id_token. */
  nonce?: string | undefined;
  /** EHR launch: the opaque value of POST /auth/launch. */
  launch?: string | undefined;
}

export type AuthorizeCheck =
  | { ok: true; parameters: AuthorizeParameters }
  | { ok: false; redirectTo: string };

/** Granted when requested, whatever the client's registration: they name no data. */
const IDENTITY_SCOPES = new Set(['fhirUser', 'openid']);
/** Granted when requested only if the client is registered for them: they outlive the login. */
const REFRESH_SCOPES = new Set(['offline_access', 'online_access']);

/** RFC 6749 §4.1.2.1: an error for the app, at its (already checked) redirect URI. */
export function errorRedirect(
  redirectUri: string,
  state: string | undefined,
  error: string,
  description: string,
): string {
  const redirect = new URL(redirectUri);
  redirect.searchParams.set('error', error);
  redirect.searchParams.set('error_description', description);
  if (state !== undefined) redirect.searchParams.set('state', state);
  return redirect.toString();
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * Whether `aud` names this FHIR base URL. On a loopback address, `localhost`, `127.0.0.1` and
 * `[::1]` are the same server (a developer's app configured with either must work).
 */
export function sameFhirBase(aud: string, fhirBaseUrl: string): boolean {
  if (!URL.canParse(aud)) return false;
  const a = new URL(aud);
  const b = new URL(fhirBaseUrl);
  const path = (url: URL) => url.pathname.replace(/\/+$/, '');
  const sameHost = a.hostname === b.hostname || (LOOPBACK.has(a.hostname) && LOOPBACK.has(b.hostname));
  return (
    sameHost && a.protocol === b.protocol && a.port === b.port && path(a) === path(b) && !a.search && !a.hash
  );
}

/** Validates the query (or form) of GET/POST /auth/authorize. */
export async function checkAuthorizeRequest(
  db: Queryable,
  query: Readonly<Record<string, string | undefined>>,
  fhirBaseUrl: string,
): Promise<AuthorizeCheck> {
  const client = query.client_id ? await findClient(db, query.client_id) : undefined;
  if (!client || client.disabled || client.redirectUris.length === 0) {
    throw new AccessError('ERR_ACCESS_CLIENT_INVALID', 'unknown client_id');
  }
  if (!query.redirect_uri || !client.redirectUris.includes(query.redirect_uri)) {
    throw new AccessError('ERR_ACCESS_REQUEST_INVALID', 'redirect_uri is not registered for this client');
  }
  const redirectUri = query.redirect_uri;
  const refuse = (error: string, description: string): AuthorizeCheck => ({
    ok: false,
    redirectTo: errorRedirect(redirectUri, query.state, error, description),
  });
  if (query.response_type !== 'code')
    return refuse('unsupported_response_type', 'response_type must be code');
  if (query.code_challenge_method !== 'S256' || !/^[A-Za-z0-9_-]{43}$/.test(query.code_challenge ?? '')) {
    return refuse('invalid_request', 'PKCE is required: code_challenge with code_challenge_method=S256');
  }
  if (query.aud !== undefined && !sameFhirBase(query.aud, fhirBaseUrl)) {
    return refuse('invalid_request', `aud must be this server's FHIR base URL ${fhirBaseUrl}`);
  }
  if (!query.scope) return refuse('invalid_scope', 'scope is required');
  const scopes = query.scope.split(/\s+/);
  if (query.launch !== undefined) {
    if (!scopes.includes('launch')) return refuse('invalid_scope', 'an EHR launch needs the launch scope');
    if (!(await findLaunchContext(db, query.launch)))
      return refuse('invalid_request', 'the launch is unknown or has expired');
  } else if (scopes.includes('launch')) {
    return refuse('invalid_request', 'the launch scope needs a launch parameter (EHR launch)');
  }
  return {
    ok: true,
    parameters: {
      clientId: client.clientId,
      redirectUri,
      scope: query.scope,
      state: query.state,
      codeChallenge: query.code_challenge!,
      aud: query.aud ?? fhirBaseUrl,
      nonce: query.nonce,
      launch: query.launch,
    },
  };
}

export type LoginResult =
  | { ok: true; redirectTo: string }
  | { ok: false; reason: 'invalid_login' }
  | { ok: 'pick'; patients: (PickablePatient & { pick: string })[] };

/** How many patients the picker lists at most. */
const PICKER_LIMIT = 50;

/** Checks the user's password; on success returns the redirect carrying the code (or an OAuth error). */
export async function completeAuthorization(
  db: Queryable,
  parameters: AuthorizeParameters,
  username: string,
  password: string,
  picker?: PatientPicker,
): Promise<LoginResult> {
  const user = await authenticateUser(db, username, password);
  if (!user) return { ok: false, reason: 'invalid_login' };
  return authorizeUser(db, parameters, user, { picker });
}

/** The patient picker's answer: the chosen patient (a value of createPatientPick) for the user who chose. */
export async function completePatientPick(
  db: Queryable,
  parameters: AuthorizeParameters,
  pick: string,
): Promise<LoginResult> {
  const chosen = await redeemPatientPick(db, pick, parameters.clientId);
  const user = chosen && (await findUser(db, chosen.username));
  if (!chosen || !user) {
    return {
      ok: true,
      redirectTo: errorRedirect(
        parameters.redirectUri,
        parameters.state,
        'invalid_request',
        'the patient choice is unknown or has expired',
      ),
    };
  }
  return authorizeUser(db, parameters, user, { pickedPatient: chosen.patient });
}

async function authorizeUser(
  db: Queryable,
  parameters: AuthorizeParameters,
  user: UserAccount,
  options: { picker?: PatientPicker | undefined; pickedPatient?: string },
): Promise<LoginResult> {
  const refuse = (error: string, description: string): LoginResult => ({
    ok: true,
    redirectTo: errorRedirect(parameters.redirectUri, parameters.state, error, description),
  });
  const client = await findClient(db, parameters.clientId);
  const registered = (client?.scopes ?? '').split(/\s+/);
  const requested = parameters.scope.split(/\s+/);
  let launch: LaunchContext | undefined;
  if (parameters.launch !== undefined) {
    launch = await findLaunchContext(db, parameters.launch);
    if (!launch) return refuse('invalid_request', 'the launch is unknown or has expired');
    if (launch.username !== user.username)
      return refuse('access_denied', 'the launch was created for another user');
  }
  const context = user.role === 'patient' ? 'patient/' : 'user/';
  const resourceScopes = intersectScopes(parameters.scope, client?.scopes ?? '').filter((s) =>
    s.startsWith(context),
  );
  if (resourceScopes.length === 0)
    return refuse('invalid_scope', `none of the requested ${context}* scopes is allowed for this client`);
  const patient = launch?.patient ?? options.pickedPatient;
  if (requested.includes('launch/patient') && user.role !== 'patient' && patient === undefined) {
    // A practitioner's standalone launch: the patient is chosen at the picker, never left out.
    const patients = options.picker ? await options.picker(user, resourceScopes.join(' '), PICKER_LIMIT) : [];
    if (patients.length === 0) {
      return refuse(
        'invalid_scope',
        'launch/patient: no patient this practitioner may open (choose the patient in the EHR: EHR launch)',
      );
    }
    const picks = [];
    for (const p of patients) {
      const pick = await createPatientPick(db, {
        username: user.username,
        clientId: parameters.clientId,
        patient: p.id,
      });
      picks.push({ ...p, pick });
    }
    return { ok: 'pick', patients: picks };
  }
  const extra = requested.filter(
    (s) =>
      IDENTITY_SCOPES.has(s) ||
      (REFRESH_SCOPES.has(s) && registered.includes(s)) ||
      (s === 'launch' && launch !== undefined) ||
      s === 'launch/patient' ||
      (s === 'launch/encounter' && launch?.encounter !== undefined),
  );
  const code = await createAuthorizationCode(db, {
    clientId: parameters.clientId,
    redirectUri: parameters.redirectUri,
    username: user.username,
    scope: [...resourceScopes, ...new Set(extra)].join(' '),
    codeChallenge: parameters.codeChallenge,
    nonce: parameters.nonce,
    launchPatient: patient,
    launchEncounter: launch?.encounter,
  });
  const redirect = new URL(parameters.redirectUri);
  redirect.searchParams.set('code', code);
  if (parameters.state !== undefined) redirect.searchParams.set('state', parameters.state);
  return { ok: true, redirectTo: redirect.toString() };
}
