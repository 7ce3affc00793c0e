/**
 * SMART discovery document (https://hl7.org/fhir/smart-app-launch/conformance.html),
 * served at /fhir/.well-known/smart-configuration and /.well-known/smart-configuration. It
 * states what is implemented and nothing more: `context-standalone-patient` is the patient
 * themself for a patient, the patient picker (patientPicker.ts) for a practitioner; no
 * user-facing consent screen, no dynamic registration (clients are registered with
 * `medledger client create`), no client secrets.
 */
import { authEndpoints } from './accessTokensFor.ts';

export function smartConfiguration(publicUrl: string) {
  const endpoints = authEndpoints(publicUrl);
  return {
    issuer: endpoints.issuer,
    jwks_uri: endpoints.jwksUri,
    token_endpoint: endpoints.tokenEndpoint,
    authorization_endpoint: endpoints.authorizationEndpoint,
    revocation_endpoint: endpoints.revocationEndpoint,
    introspection_endpoint: endpoints.introspectionEndpoint,
    token_endpoint_auth_methods_supported: ['private_key_jwt', 'none'],
    token_endpoint_auth_signing_alg_values_supported: ['ES384', 'RS384'],
    grant_types_supported: ['client_credentials', 'authorization_code', 'refresh_token'],
    response_types_supported: ['code'],
    scopes_supported: [
      'openid',
      'fhirUser',
      'launch',
      'launch/patient',
      'launch/encounter',
      'offline_access',
      'online_access',
      'system/*.cruds',
      'system/*.rs',
      'user/*.cruds',
      'user/*.rs',
      'patient/*.rs',
      'patient/*.cruds',
    ],
    capabilities: [
      'permission-v2',
      'permission-v1',
      'client-confidential-asymmetric',
      'client-public',
      'launch-standalone',
      'launch-ehr',
      'context-standalone-patient',
      'context-ehr-patient',
      'context-ehr-encounter',
      'permission-patient',
      'permission-user',
      'permission-offline',
      'permission-online',
      'sso-openid-connect',
      'authorize-post',
    ],
    code_challenge_methods_supported: ['S256'],
  };
}
