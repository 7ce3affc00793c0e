/**
 * The CapabilityStatement at `/fhir/metadata`, generated from what this server actually does:
 * every R4 resource type with the interactions the router serves, the search parameters
 * loaded from the R4 definitions (with which are answered from the blind index), and SMART's
 * security extension pointing at this node's OAuth endpoints.
 * @see https://hl7.org/fhir/R4/capabilitystatement.html
 * @see https://hl7.org/fhir/smart-app-launch/conformance.html#using-cs
 */
import { getResourceTypes, getSearchParameters } from '@medplum/core';
import type { CapabilityStatement, CapabilityStatementRestResource } from '@medplum/fhirtypes';
import { authEndpoints } from '../access/accessTokensFor.ts';
import type { FhirService } from './FhirService.ts';

const INTERACTIONS = [
  'read',
  'vread',
  'update',
  'patch',
  'delete',
  'history-instance',
  'history-type',
  'create',
  'search-type',
] as const;
const SKIP = new Set(['Resource', 'DomainResource', 'MetadataResource', 'Binary', 'Parameters']);

/** FHIR Bulk Data Access (src/fhir/bulk/): `$export` at system, Patient and Group level. */
const BULK = 'http://hl7.org/fhir/uv/bulkdata';

let cached: CapabilityStatement | undefined;

export function capabilityStatement(service: FhirService): CapabilityStatement {
  cached ??= build(service);
  return cached;
}

function build(service: FhirService): CapabilityStatement {
  const endpoints = authEndpoints(service.ctx.config.publicUrl);
  const resource: CapabilityStatementRestResource[] = getResourceTypes()
    .filter((t) => !SKIP.has(t))
    .sort()
    .map((type) => ({
      type,
      interaction: INTERACTIONS.map((code) => ({ code })),
      versioning: 'versioned',
      readHistory: true,
      updateCreate: true,
      conditionalCreate: true,
      conditionalUpdate: true,
      conditionalDelete: 'single',
      searchInclude: ['*'],
      searchRevInclude: ['*'],
      searchParam: Object.values(getSearchParameters(type) ?? {})
        .filter((p) => p.code && p.type && p.type !== 'composite' && p.type !== 'special')
        .map((p) => ({
          name: p.code as string,
          type: p.type as 'string',
          ...(p.url ? { definition: p.url } : {}),
        })),
      ...(type === 'Patient'
        ? {
            operation: [
              {
                name: 'everything',
                definition: 'http://hl7.org/fhir/OperationDefinition/Patient-everything',
              },
              { name: 'export', definition: `${BULK}/OperationDefinition/patient-export` },
            ],
          }
        : {}),
      ...(type === 'Group'
        ? { operation: [{ name: 'export', definition: `${BULK}/OperationDefinition/group-export` }] }
        : {}),
    }));
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: new Date().toISOString(),
    kind: 'instance',
    instantiates: [`${BULK}/CapabilityStatement/bulk-data`],
    fhirVersion: '4.0.1',
    format: ['json', 'application/fhir+json'],
    patchFormat: ['application/json-patch+json', 'application/fhir+json'],
    software: { name: 'medledger', version: '0.1.0' },
    implementation: { description: 'medledger FHIR R4 API', url: service.baseUrl },
    rest: [
      {
        mode: 'server',
        security: {
          cors: true,
          description:
            'SMART App Launch 2.x and Backend Services (details in .well-known/smart-configuration): ' +
            'standalone and EHR launch, authorization code with PKCE S256 for public clients (auth method none) ' +
            'and confidential asymmetric ones (private_key_jwt), client_credentials for backend services, ' +
            'OpenID Connect id_token (openid, fhirUser), refresh tokens with rotation (offline_access, online_access), ' +
            'token revocation (RFC 7009) and introspection (RFC 7662), a patient picker for practitioners. ' +
            'No dynamic registration, no client secrets.',
          service: [
            {
              coding: [
                {
                  system: 'http://terminology.hl7.org/CodeSystem/restful-security-service',
                  code: 'SMART-on-FHIR',
                },
              ],
            },
          ],
          extension: [
            {
              url: 'http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris',
              extension: [
                { url: 'token', valueUri: endpoints.tokenEndpoint },
                { url: 'authorize', valueUri: endpoints.authorizationEndpoint },
                { url: 'revoke', valueUri: endpoints.revocationEndpoint },
                { url: 'introspect', valueUri: endpoints.introspectionEndpoint },
              ],
            },
          ],
        },
        resource,
        interaction: [{ code: 'transaction' }, { code: 'batch' }, { code: 'history-system' }],
        operation: [{ name: 'export', definition: `${BULK}/OperationDefinition/export` }],
      },
    ],
  };
}
