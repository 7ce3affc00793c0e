// A minimal SMART App Launch client for the browser, served to Chromium by
// test/smart/browserLaunch.test.ts from an origin other than the node's. It does what a
// third-party client library (fhirclient) does, with the platform only: discovery, PKCE S256
// with WebCrypto, the authorize redirect (standalone or EHR launch), the code exchange, FHIR
// reads with the bearer token, the id_token checked against the published JWKS, and refresh.
// State lives in sessionStorage across the redirects, as in fhirclient.
const KEY = 'smart-state';

const base64url = (bytes) =>
  btoa(String.fromCharCode(...new Uint8Array(bytes)))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '');
const fromBase64url = (text) =>
  Uint8Array.from(atob(text.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0));
const load = () => JSON.parse(sessionStorage.getItem(KEY) ?? '{}');
const save = (state) => sessionStorage.setItem(KEY, JSON.stringify(state));

async function postForm(url, fields) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: new URLSearchParams(fields),
  });
  const body = await response.json();
  if (!response.ok) throw new Error(`${url}: ${response.status} ${body.error} ${body.error_description}`);
  return body;
}

window.smart = {
  /** Discovery, PKCE, then navigates to the authorization endpoint. */
  async authorize({ iss, clientId, scope, redirectUri, launch }) {
    const configuration = await fetch(`${iss}/.well-known/smart-configuration`).then((r) => r.json());
    const verifier = base64url(crypto.getRandomValues(new Uint8Array(32)));
    const challenge = base64url(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier)));
    const state = base64url(crypto.getRandomValues(new Uint8Array(16)));
    const nonce = base64url(crypto.getRandomValues(new Uint8Array(16)));
    save({ iss, clientId, redirectUri, verifier, state, nonce, configuration });
    const url = new URL(configuration.authorization_endpoint);
    const query = {
      response_type: 'code',
      client_id: clientId,
      redirect_uri: redirectUri,
      scope,
      state,
      nonce,
      aud: iss,
      code_challenge: challenge,
      code_challenge_method: 'S256',
      ...(launch === undefined ? {} : { launch }),
    };
    for (const [name, value] of Object.entries(query)) url.searchParams.set(name, value);
    location.assign(url.toString());
  },

  /** On the redirect page: checks state, exchanges the code; the token response. */
  async ready() {
    const saved = load();
    const params = new URLSearchParams(location.search);
    if (params.get('error')) throw new Error(`${params.get('error')}: ${params.get('error_description')}`);
    if (params.get('state') !== saved.state) throw new Error('state mismatch');
    const tokenResponse = await postForm(saved.configuration.token_endpoint, {
      grant_type: 'authorization_code',
      code: params.get('code'),
      redirect_uri: saved.redirectUri,
      client_id: saved.clientId,
      code_verifier: saved.verifier,
    });
    save({ ...saved, tokenResponse });
    return tokenResponse;
  },

  /** A FHIR read relative to the server's base URL, with the access token. */
  async request(path) {
    const { iss, tokenResponse } = load();
    const response = await fetch(`${iss}/${path}`, {
      headers: { authorization: `Bearer ${tokenResponse.access_token}`, accept: 'application/fhir+json' },
    });
    if (!response.ok) throw new Error(`${path}: ${response.status}`);
    return response.json();
  },

  /** The id_token's claims, after checking its signature against jwks_uri, iss, aud and nonce. */
  async user() {
    const { iss, clientId, nonce, configuration, tokenResponse } = load();
    const [header, payload, signature] = tokenResponse.id_token.split('.');
    const { kid } = JSON.parse(new TextDecoder().decode(fromBase64url(header)));
    const jwks = await fetch(configuration.jwks_uri).then((r) => r.json());
    const jwk = jwks.keys.find((k) => k.kid === kid);
    const key = await crypto.subtle.importKey('jwk', jwk, { name: 'ECDSA', namedCurve: 'P-256' }, false, [
      'verify',
    ]);
    const valid = await crypto.subtle.verify(
      { name: 'ECDSA', hash: 'SHA-256' },
      key,
      fromBase64url(signature),
      new TextEncoder().encode(`${header}.${payload}`),
    );
    const claims = JSON.parse(new TextDecoder().decode(fromBase64url(payload)));
    if (!valid) throw new Error('id_token signature');
    if (claims.aud !== clientId || claims.nonce !== nonce) throw new Error('id_token aud or nonce');
    if (new URL(claims.iss).port !== new URL(iss).port) throw new Error('id_token iss');
    return claims;
  },

  /** grant_type=refresh_token with the token only (no client_id, as fhirclient sends it); keeps the rotated token. */
  async refresh() {
    const saved = load();
    const tokenResponse = await postForm(saved.configuration.token_endpoint, {
      grant_type: 'refresh_token',
      refresh_token: saved.tokenResponse.refresh_token,
    });
    save({ ...saved, tokenResponse });
    return tokenResponse;
  },
};
