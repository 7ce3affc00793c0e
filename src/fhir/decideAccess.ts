/**
 * The one access decision (and audit event) of a FHIR HTTP request, from what the route
 * touches: the resource's patient compartment for instance interactions and creates, the
 * named patient (compartment path, `patient` / `subject` parameter, or the token's patient)
 * for searches. A request about a resource that does not exist is answered 404 once the token
 * and scope allow the interaction, so existence is never revealed by a different status.
 */
import type { FhirRouteMetadata } from '@medplum/fhir-router';
import type { Resource } from '@medplum/fhirtypes';
import type { AccessDecision, AccessRequest } from '../access/authorizeAccess.ts';
import { accessHeaders, type CheckAccessResult, checkAccess } from '../access/checkAccess.ts';
import type { Principal } from '../access/Principal.ts';
import { type Interaction, scopeAllows } from '../access/scopes.ts';
import type { RestInteraction } from '../audit/AuditSink.ts';
import type { FhirService } from './FhirService.ts';
import type { VaultRepository } from './VaultRepository.ts';

export interface RouteFacts {
  interaction: FhirRouteMetadata['interaction'];
  params: Record<string, string>;
  query: Record<string, string | string[] | undefined>;
  method: string;
  body: unknown;
}

export interface RequestFacts {
  authorization: string | undefined;
  headers: Record<string, string | string[] | undefined>;
  network: string;
  queryString: string;
}

export interface AccessOutcome extends CheckAccessResult {
  /** The status to answer with when not allowed. */
  status: number;
}

const INTERACTION: Record<string, Interaction> = {
  read: 'r',
  vread: 'r',
  'history-instance': 'r',
  operation: 'r',
  'search-type': 's',
  'search-system': 's',
  'history-type': 's',
  'history-system': 's',
  create: 'c',
  update: 'u',
  patch: 'u',
  delete: 'd',
  batch: 'c',
  transaction: 'c',
};

export async function decideAccess(
  service: FhirService,
  repo: VaultRepository,
  route: RouteFacts,
  request: RequestFacts,
): Promise<AccessOutcome> {
  const interaction = INTERACTION[route.interaction] ?? 'r';
  const { resourceType: typeParam, id, compartmentType } = route.params;
  let resourceType = compartmentType ?? typeParam ?? 'Bundle';
  if (route.interaction === 'search-system' || route.interaction === 'history-system') resourceType = '*';
  let subject: Resource | undefined;
  let missing = false;
  if (id && !compartmentType && route.interaction !== 'operation') {
    subject = await repo.peek(resourceType, id);
    if (!subject && route.interaction === 'update') subject = route.body as Resource | undefined;
    missing = subject === undefined;
  } else if (id && typeParam === undefined) {
    // Patient/{id}/... (compartment search, $everything)
    subject = await repo.peek('Patient', id);
    missing = subject === undefined;
    if (route.interaction === 'operation') resourceType = 'Patient';
  } else if (route.interaction === 'create' && isResource(route.body)) {
    subject = route.body;
  }

  let accessRequest: AccessRequest;
  if (subject && compartmentType === undefined) {
    accessRequest = await service.accessRequestFor(subject, interaction, service.ctx.db);
  } else if (subject) {
    const patient = await service.accessRequestFor(subject, interaction, service.ctx.db);
    accessRequest = { ...patient, resourceType };
  } else {
    accessRequest = { resourceType, interaction };
  }
  if (accessRequest.patientId === undefined && interaction === 's') {
    const named = namedPatient(route.query);
    if (named) {
      const patientAddress = await service.patientAddress(named, service.ctx.db);
      accessRequest = { ...accessRequest, patientId: named, ...(patientAddress ? { patientAddress } : {}) };
    }
  }
  accessRequest = { ...accessRequest, ...accessHeaders(request.headers) };

  const result = await checkAccess(service.access, {
    authorization: request.authorization,
    request: await withTokenPatient(service, accessRequest, request.authorization),
    subtype: route.interaction as RestInteraction,
    resources: subject?.id ? [`${subject.resourceType}/${subject.id}`] : [],
    ...(request.queryString ? { query: request.queryString } : {}),
    network: request.network,
  });
  return { ...result, status: statusFor(result.decision, result.principal, accessRequest, missing) };
}

/** A patient searching without naming a patient searches their own compartment. */
async function withTokenPatient(
  service: FhirService,
  request: AccessRequest,
  authorization: string | undefined,
): Promise<AccessRequest> {
  if (request.patientId !== undefined || request.interaction !== 's') return request;
  const principal = await service.access.tokens.authenticate(authorization).catch(() => undefined);
  if (principal?.kind !== 'patient' || principal.patient === undefined) return request;
  return { ...request, patientId: principal.patient };
}

function statusFor(
  decision: AccessDecision,
  principal: Principal | undefined,
  request: AccessRequest,
  missing: boolean,
): number {
  if (!missing || decision.allowed) return decision.status;
  if (decision.status === 401 || decision.status === 503 || !principal)
    return decision.allowed ? 200 : decision.status;
  const scopeOk = scopeAllows(principal.scopes, {
    context: principal.context,
    resourceType: request.resourceType,
    interaction: request.interaction,
  });
  return scopeOk ? 404 : 403;
}

/** `patient=123`, `patient=Patient/123`, `subject=Patient/123` name one patient. */
function namedPatient(query: RouteFacts['query']): string | undefined {
  for (const name of ['patient', 'subject', 'subject:Patient', 'patient:Patient']) {
    const raw = query[name];
    const value = Array.isArray(raw) ? raw[0] : raw;
    if (!value || value.includes(',')) continue;
    if (name.startsWith('subject') && !value.startsWith('Patient/') && name === 'subject') continue;
    return value.replace(/^.*Patient\//, '');
  }
  return undefined;
}

function isResource(body: unknown): body is Resource {
  return typeof body === 'object' && body !== null && typeof (body as Resource).resourceType === 'string';
}
