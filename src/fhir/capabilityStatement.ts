/**
 * The CapabilityStatement at `/fhir/metadata`, generated from what this server actually does:
 * every R4 resource type with the interactions the router serves, the search parameters it
 * answers with their modifiers and prefixes (the same table the search refuses by), and SMART's
 * security extension pointing at this node's OAuth endpoints.
 * @see https://hl7.org/fhir/R4/capabilitystatement.html
 * @see https://hl7.org/fhir/smart-app-launch/conformance.html#using-cs
 */
import { getResourceTypes, getSearchParameters } from '@medplum/core';
import type {
  CapabilityStatement,
  CapabilityStatementRestResource,
  CapabilityStatementRestResourceSearchParam,
} from '@medplum/fhirtypes';
import { authEndpoints } from '../access/accessTokensFor.ts';
import type { FhirService } from './FhirService.ts';
import { SUPPORTED_OPERATORS, supportedModifiers } from './search/supportedModifiers.ts';

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

/**
 * The search parameters answered for a type, each with the modifiers and prefixes it takes
 * (supportedModifiers.ts; R4's searchParam has no element for them, so `documentation` says
 * it). Composite, special and number parameters are left out: they are refused with 400.
 */
export function searchParamsOf(type: string): CapabilityStatementRestResourceSearchParam[] {
  return Object.values(getSearchParameters(type) ?? {})
    .filter((p) => p.code && p.type && SUPPORTED_OPERATORS[p.type])
    .sort((a, b) => (a.code as string).localeCompare(b.code as string))
    .map((p) => ({
      name: p.code as string,
      type: p.type as 'string',
      ...(p.url ? { definition: p.url } : {}),
      documentation: describeOperators(p.type as string),
    }));
}

/** `modifiers: :exact, :contains, :missing` / `prefixes: eq, ne, ...; modifiers: :missing`. */
export function describeOperators(parameterType: string): string {
  const modifiers = supportedModifiers(parameterType).map((m) => `:${m}`);
  const prefixes = (SUPPORTED_OPERATORS[parameterType] ?? []).filter((o) => !modifiers.includes(`:${o}`));
  const hasPrefixes = parameterType === 'date' || parameterType === 'quantity';
  return [
    ...(hasPrefixes ? [`prefixes: ${prefixes.join(', ')}`] : []),
    `modifiers: ${modifiers.join(', ') || 'none'}`,
  ].join('; ');
}

/** Result parameters, for every type (search.html#return). */
const RESULT_PARAMETERS: CapabilityStatementRestResourceSearchParam[] = [
  { name: '_count', type: 'number', documentation: 'page size, default 20, at most 1000' },
  { name: '_offset', type: 'number', documentation: 'paging offset (the next/previous links carry it)' },
  {
    name: '_sort',
    type: 'string',
    documentation: 'any search parameter of the type, _id, _lastUpdated; - for descending',
  },
  { name: '_total', type: 'token', documentation: 'none, estimate, accurate' },
  {
    name: '_summary',
    type: 'token',
    documentation: 'true, text, data, count, false (on read too); SUBSETTED tag',
  },
  {
    name: '_elements',
    type: 'string',
    documentation: 'top-level elements (on read too); mandatory ones, id and meta kept; SUBSETTED tag',
  },
  { name: '_include', type: 'special', documentation: 'Type:parameter[:target]' },
  { name: '_revinclude', type: 'special', documentation: 'Type:parameter' },
];

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
      searchParam: searchParamsOf(type),
      ...(type === 'Patient'
        ? {
            operation: [
              {
                name: 'everything',
                definition: 'http://hl7.org/fhir/OperationDefinition/Patient-everything',
                documentation:
                  'Parameters answered: start, end (clinical-date), _since, _type, _count with _offset, remote=false. Others are refused with 400.',
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
        documentation:
          'Search: a parameter, modifier or prefix not listed here is refused with 400 (Prefer: handling=strict, the default); ' +
          'with Prefer: handling=lenient it is left out of the search and its self link, and an OperationOutcome entry ' +
          '(search.mode=outcome) names it. See docs/conformance.md.',
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
        searchParam: RESULT_PARAMETERS,
        interaction: [{ code: 'transaction' }, { code: 'batch' }, { code: 'history-system' }],
        operation: [{ name: 'export', definition: `${BULK}/OperationDefinition/export` }],
      },
    ],
  };
}
