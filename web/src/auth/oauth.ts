/**
 * Sign-in: the node's authorization server, authorization code flow with PKCE (RFC 7636, SMART
 * standalone launch). The password is typed on the node's own login page, never in this app;
 * the code comes back to /portal/ and is exchanged for a token here.
 * @see https://www.rfc-editor.org/rfc/rfc7636
 */
import { ApiError, portalConfig } from '../api.ts';
import { type Session, saveSession } from './session.ts';

const PENDING = 'medledger.oauth.pending';

const base64url = (bytes: Uint8Array) =>
  btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '');

const randomString = (size: number) => base64url(crypto.getRandomValues(new Uint8Array(size)));

export async function startSignIn(): Promise<void> {
  const config = await portalConfig();
  const verifier = randomString(48);
  const state = randomString(16);
  const challenge = base64url(
    new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier))),
  );
  sessionStorage.setItem(PENDING, JSON.stringify({ verifier, state }));
  const url = new URL(config.authorizeUrl, location.origin);
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: config.clientId,
    redirect_uri: config.redirectUri,
    scope: config.scope,
    state,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    aud: config.fhirBaseUrl,
  }).toString();
  location.assign(url.toString());
}

/** If this page load is the return from the login page, exchanges the code; true once signed in. */
export async function completeSignIn(): Promise<boolean> {
  const params = new URLSearchParams(location.search);
  const code = params.get('code');
  const error = params.get('error');
  if (!code && !error) return false;
  history.replaceState(null, '', location.pathname + location.hash);
  const pending = JSON.parse(sessionStorage.getItem(PENDING) ?? 'null') as {
    verifier: string;
    state: string;
  } | null;
  sessionStorage.removeItem(PENDING);
  if (error)
    throw new ApiError(
      403,
      error === 'invalid_scope' ? 'This account may not use the portal.' : `Sign-in failed: ${error}`,
    );
  if (!pending || params.get('state') !== pending.state)
    throw new ApiError(400, 'The sign-in answer does not match this tab. Please sign in again.');
  const config = await portalConfig();
  const response = await fetch(config.tokenUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code: code!,
      client_id: config.clientId,
      redirect_uri: config.redirectUri,
      code_verifier: pending.verifier,
    }),
  });
  const token = (await response.json()) as {
    access_token?: string;
    expires_in?: number;
    scope?: string;
    patient?: string;
    fhirUser?: string;
    error_description?: string;
  };
  if (!response.ok || !token.access_token)
    throw new ApiError(response.status, token.error_description ?? 'Sign-in failed.');
  const session: Session = {
    accessToken: token.access_token,
    expiresAt: Date.now() + (token.expires_in ?? 3600) * 1000 - 30_000,
    scope: token.scope ?? '',
    ...(token.patient ? { patient: token.patient } : {}),
    ...(token.fhirUser ? { fhirUser: token.fhirUser } : {}),
  };
  saveSession(session);
  return true;
}
