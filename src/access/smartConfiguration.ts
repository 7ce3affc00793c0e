/**
 * SMART discovery document (https://hl7.org/fhir/smart-app-launch/conformance.html),
 * served at /fhir/.well-known/smart-configuration.
 */
import { authEndpoints } from './accessTokensFor.ts';

export function smartConfiguration(publicUrl: string) {
  const endpoints = authEndpoints(publicUrl);
  return {
    issuer: endpoints.issuer,
    token_endpoint: endpoints.tokenEndpoint,
    authorization_endpoint: endpoints.authorizationEndpoint,
    token_endpoint_auth_methods_supported: ['private_key_jwt'],
    token_endpoint_auth_signing_alg_values_supported: ['ES384', 'RS384'],
    grant_types_supported: ['client_credentials', 'authorization_code'],
    response_types_supported: ['code'],
    scopes_supported: [
      'system/*.cruds',
      'system/*.rs',
      'user/*.cruds',
      'user/*.rs',
      'patient/*.rs',
      'patient/*.cruds',
      'launch/patient',
      'fhirUser',
    ],
    capabilities: [
      'permission-v2',
      'permission-v1',
      'client-confidential-asymmetric',
      'client-public',
      'launch-standalone',
      'context-standalone-patient',
      'permission-patient',
      'permission-user',
      'authorize-post',
    ],
    code_challenge_methods_supported: ['S256'],
  };
}
