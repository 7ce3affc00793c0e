// The app's own code, served to Chromium by test/smart/browserLaunch.test.ts from an origin
// other than the node's, on top of the real fhirclient 2.6 library (its browser build,
// node_modules/fhirclient/build/fhir-client.js, loaded first: the `FHIR` global). fhirclient
// does discovery, PKCE, the authorize redirect (standalone or EHR launch), the code exchange,
// FHIR requests with the bearer token and refresh; the app checks the id_token's signature
// against the published JWKS itself (fhirclient decodes it without checking).
const fromBase64url = (text) =>
  Uint8Array.from(atob(text.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0));

window.smart = {
  authorize({ iss, clientId, scope, redirectUri, launch }) {
    return FHIR.oauth2.authorize({ iss, clientId, scope, redirectUri, ...(launch ? { launch } : {}) });
  },

  /** On the redirect page: fhirclient exchanges the code; the token response. */
  async ready() {
    window.client = await FHIR.oauth2.ready();
    return window.client.state.tokenResponse;
  },

  /** What fhirclient itself says about the launch: patient, encounter and user. */
  context() {
    const client = window.client;
    return {
      patient: client.patient.id,
      encounter: client.encounter.id,
      fhirUser: client.user.fhirUser,
      userId: client.user.id,
      userType: client.user.resourceType,
    };
  },

  request(path) {
    return window.client.request(path);
  },

  /** The id_token's claims (fhirclient's getIdToken), after checking its signature against jwks_uri. */
  async user() {
    const client = window.client;
    const idToken = client.state.tokenResponse.id_token;
    const [header, payload, signature] = idToken.split('.');
    const { kid } = JSON.parse(new TextDecoder().decode(fromBase64url(header)));
    const configuration = await fetch(`${client.state.serverUrl}/.well-known/smart-configuration`).then((r) =>
      r.json(),
    );
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
    if (!valid) throw new Error('id_token signature');
    const claims = client.getIdToken();
    if (claims.aud !== client.state.clientId) throw new Error('id_token aud');
    return claims;
  },

  /** fhirclient's refresh (grant_type=refresh_token); the new token response. */
  async refresh() {
    await window.client.refresh();
    return window.client.state.tokenResponse;
  },
};
