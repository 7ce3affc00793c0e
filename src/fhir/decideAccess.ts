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
import { authorizeAccess } from '../access/authorizeAccess.ts';
import { accessHeaders, type CheckAccessResult, decideAccessOf, undecided } from '../access/checkAccess.ts';
import type { Principal } from '../access/Principal.ts';
import { type Interaction, scopeAllows } from '../access/scopes.ts';
import type { FhirService } from './FhirService.ts';
import { compartmentParams } from './patientCompartment.ts';
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
  /** The request the event is recorded under (its patient, if it names one). */
  request: AccessRequest;
  /** Every patient the decision was made for (all had to allow). */
  patients: string[];
  /** What the request is about, for its audit event (`Observation/9`). */
  resources: string[];
  /**
   * Decided per version served (instance history): the request's own decision checks the token
   * and scope only; each version is decided for its own patients, and nothing visible is 404.
   */
  perVersion: boolean;
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

const INSTANCE = new Set(['read', 'vread', 'history-instance', 'update', 'patch', 'delete']);

/**
 * Decides a request without recording it: the caller serves, then appends the one audit event
 * naming what was served and every patient it concerned (registerFhirRoutes).
 */
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
  // History is decided per version: its versions may belong to different patients.
  const perVersion =
    route.interaction === 'history-instance' ||
    route.interaction === 'history-type' ||
    route.interaction === 'history-system';
  // The content the decision rests on: for an instance, the version it is about (a deletion:
  // the content it removed); for a compartment path, the Patient; for a create, the body.
  let subject: Resource | undefined;
  let missing = false;
  const instance = id !== undefined && !compartmentType && INSTANCE.has(route.interaction);
  if (instance && typeParam) {
    if (route.interaction === 'vread')
      subject = await repo.peekVersion(typeParam, id, Number(route.params.vid));
    else if (!perVersion) subject = (await repo.peekSubject(typeParam, id))?.resource;
    if (!subject && route.interaction === 'update' && isResource(route.body)) subject = route.body;
    missing = subject === undefined && !perVersion;
  } else if (id && typeParam === undefined) {
    // Patient/{id}/... (compartment search, $everything)
    subject = await repo.peek('Patient', id);
    missing = subject === undefined;
    if (route.interaction === 'operation') resourceType = 'Patient';
  } else if (route.interaction === 'create' && isResource(route.body)) {
    subject = route.body;
  }
  // A write into a chart the caller may not write is refused as such (403), not "not found".
  const fromBody = subject !== undefined && subject === route.body;

  let requests: AccessRequest[];
  if (subject && !perVersion) {
    requests = (await service.accessRequestsFor(subject, interaction, service.ctx.db)).map((r) =>
      compartmentType === undefined ? r : { ...r, resourceType },
    );
  } else {
    requests = [{ resourceType, interaction, ...(perVersion ? { perVersion } : {}) }];
  }
  const [first] = requests as [AccessRequest];
  if (first.patientId === undefined && interaction === 's') {
    const named = namedPatient(route.query, resourceType);
    if (named) {
      const patientAddress = await service.patientAddress(named, service.ctx.db);
      requests = [{ ...first, patientId: named, ...(patientAddress ? { patientAddress } : {}) }];
    }
  }
  const headers = accessHeaders(request.headers);
  // Break-glass opens for one named patient only, never for every patient of a resource.
  const opening = requests.length === 1 ? headers : withoutBreakGlass(headers);
  // Every resource a FHIR interaction touches passes the per-resource guard as well (guarded);
  // the one it names is the decision's resource (a granular scope must match it).
  requests = requests.map((r) => ({
    ...r,
    ...opening,
    guarded: true,
    ...(subject && !perVersion && subject.resourceType === r.resourceType ? { resource: subject } : {}),
  }));
  requests[0] = await withTokenPatient(service, requests[0] as AccessRequest, request.authorization);

  let result: CheckAccessResult = await decideAccessOf(service.access, {
    authorization: request.authorization,
    request: requests[0] as AccessRequest,
  });
  for (const next of requests.slice(1)) {
    if (!result.decision.allowed) break;
    const decision = await authorizeAccess(service.access, result.principal, next).catch((error: unknown) =>
      undecided(next, result.principal, error),
    );
    if (!decision.allowed) result = { decision, principal: result.principal };
  }
  const decided = requests[0] as AccessRequest;
  return {
    ...result,
    status:
      fromBody && result.decision.status === 404
        ? 403
        : statusFor(
            result.decision,
            result.principal,
            decided,
            missing,
            instance || route.interaction === 'operation',
          ),
    request: decided,
    patients: requests.flatMap((r) => (r.patientId === undefined ? [] : [r.patientId])),
    resources: subject?.id
      ? [`${subject.resourceType}/${subject.id}`]
      : id && typeParam
        ? [`${typeParam}/${id}`]
        : [],
    perVersion,
  };
}

function withoutBreakGlass(headers: ReturnType<typeof accessHeaders>): ReturnType<typeof accessHeaders> {
  const { breakGlassReason: _, ...rest } = headers;
  return rest;
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

/**
 * A resource that is not there and one the caller may not see answer alike (404) once the token
 * and scope allow the interaction: existence is never revealed by a different status.
 */
function statusFor(
  decision: AccessDecision,
  principal: Principal | undefined,
  request: AccessRequest,
  missing: boolean,
  aboutOne: boolean,
): number {
  if (decision.allowed) return decision.status;
  if (!missing && !(aboutOne && decision.status === 403)) return decision.status;
  if (decision.status === 401 || decision.status === 503 || !principal)
    return decision.allowed ? 200 : decision.status;
  const scopeOk = scopeAllows(principal.scopes, {
    context: principal.context,
    resourceType: request.resourceType,
    interaction: request.interaction,
  });
  return scopeOk ? 404 : 403;
}

/**
 * `patient=123`, `patient=Patient/123`, `subject=Patient/123`, or another of the type's patient
 * compartment parameters (`Coverage?beneficiary=Patient/123`) name one patient.
 */
function namedPatient(query: RouteFacts['query'], resourceType: string): string | undefined {
  const names = ['patient', 'subject', 'subject:Patient', 'patient:Patient'];
  for (const code of compartmentParams(resourceType) ?? []) names.push(code, `${code}:Patient`);
  for (const name of names) {
    const raw = query[name];
    const value = Array.isArray(raw) ? raw[0] : raw;
    if (!value || value.includes(',')) continue;
    const typed = name.endsWith(':Patient') || name === 'patient';
    if (!typed && !value.startsWith('Patient/')) continue;
    return value.replace(/^.*Patient\//, '');
  }
  return undefined;
}

function isResource(body: unknown): body is Resource {
  return typeof body === 'object' && body !== null && typeof (body as Resource).resourceType === 'string';
}
