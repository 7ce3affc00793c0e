/**
 * OpenID Connect discovery (OIDC Discovery §3), served at /.well-known/openid-configuration:
 * what an OIDC library needs to check this server's id_tokens (issuer, jwks_uri, ES256). Only the
 * authorization code flow; no userinfo endpoint (the id_token's `fhirUser` names the user's FHIR
 * resource, which the access token reads).
 */
import { authEndpoints } from './accessTokensFor.ts';

export function openidConfiguration(publicUrl: string) {
  const endpoints = authEndpoints(publicUrl);
  return {
    issuer: endpoints.issuer,
    authorization_endpoint: endpoints.authorizationEndpoint,
    token_endpoint: endpoints.tokenEndpoint,
    jwks_uri: endpoints.jwksUri,
    revocation_endpoint: endpoints.revocationEndpoint,
    introspection_endpoint: endpoints.introspectionEndpoint,
    response_types_supported: ['code'],
    grant_types_supported: ['authorization_code', 'refresh_token'],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: ['ES256'],
    scopes_supported: ['openid', 'fhirUser', 'offline_access', 'online_access'],
    claims_supported: ['iss', 'sub', 'aud', 'exp', 'iat', 'nonce', 'fhirUser'],
    token_endpoint_auth_methods_supported: ['private_key_jwt', 'none'],
    token_endpoint_auth_signing_alg_values_supported: ['ES384', 'RS384'],
    code_challenge_methods_supported: ['S256'],
  };
}
