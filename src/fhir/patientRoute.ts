/**
 * A route about one patient's data outside Medplum's router (chain-derived Consent, the audit
 * log's access report): find the patient, decide access once (exactly one audit event), then
 * run the handler only if allowed. A missing patient, or another patient's, is 404.
 */
import type { Resource } from '@medplum/fhirtypes';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { accessHeaders, checkAccess } from '../access/checkAccess.ts';
import { type Interaction, scopeAllows } from '../access/scopes.ts';
import type { RestInteraction } from '../audit/AuditSink.ts';
import type { FhirService } from './FhirService.ts';
import { sendFhir } from './fhirHttp.ts';
import { OPEN_GUARD } from './ResourceGuard.ts';
import { outcome, toOperationOutcome } from './toOperationOutcome.ts';
import { VaultRepository } from './VaultRepository.ts';

export type Query = Record<string, string | string[] | undefined>;

/** What one request is about, for its access decision. */
export interface PatientRouteTarget {
  /** The resource type the request reads or writes (scopes and consent are per type). */
  resourceType: string;
  interaction: Interaction;
  subtype: RestInteraction;
  resources?: string[];
  /**
   * A refusal on consent is answered 404, as a read of the record is (a version's `$proof`):
   * whether the record exists is as private as the record.
   */
  refusedAsNotFound?: boolean;
}

export interface AllowedPatientRequest {
  service: FhirService;
  request: FastifyRequest;
  query: Query;
  patientId: string;
  /** The patient's chain address (lower-case), if they have one. */
  patientAddress: string | undefined;
}

export interface Answer {
  status: number;
  body: Resource;
  headers?: Record<string, string>;
}

/** Decides access (one audit event), then runs the handler if allowed; a missing patient is 404. */
export async function forPatient(
  service: FhirService,
  request: FastifyRequest,
  patientId: string | undefined,
  target: PatientRouteTarget,
  run: (r: AllowedPatientRequest) => Promise<Answer>,
): Promise<Answer> {
  const patient =
    patientId === undefined
      ? undefined
      : await new VaultRepository(service, OPEN_GUARD).peek('Patient', patientId);
  const patientAddress = patient
    ? await service.patientAddress(patient.id as string, service.ctx.db)
    : undefined;
  const queryString = request.url.split('?', 2)[1] ?? '';
  const { decision, principal } = await checkAccess(service.access, {
    authorization: request.headers.authorization,
    request: {
      resourceType: target.resourceType,
      interaction: target.interaction,
      ...(patient ? { patientId: patient.id } : {}),
      ...(patientAddress ? { patientAddress } : {}),
      ...accessHeaders(request.headers),
    },
    subtype: target.subtype,
    resources: target.resources ?? (patient ? [`Patient/${patient.id}`] : []),
    ...(queryString ? { query: queryString } : {}),
    network: request.ip,
  });
  if (decision.allowed && patient) {
    return run({
      service,
      request,
      query: request.query as Query,
      patientId: patient.id as string,
      patientAddress,
    });
  }
  let status: number = decision.status;
  const scopeOk =
    principal !== undefined &&
    scopeAllows(principal.scopes, {
      context: principal.context,
      resourceType: target.resourceType,
      interaction: target.interaction,
    });
  if (decision.allowed) status = 404;
  else if (!patient && principal && status !== 401 && status !== 503) status = scopeOk ? 404 : 403;
  else if (target.refusedAsNotFound && status === 403 && scopeOk) status = 404;
  if (status === 404) return notFound();
  const text = status === 401 ? 'Authentication required' : decision.reason;
  const id = { 401: 'unauthorized', 403: 'forbidden', 503: 'medledger-unavailable' }[status];
  const code = status === 503 ? 'transient' : status === 401 ? 'login' : 'forbidden';
  return {
    status,
    body: outcome(id, code, text),
    ...(status === 401 ? { headers: { 'www-authenticate': 'Bearer realm="medledger"' } } : {}),
  };
}

/**
 * Decides access for a request that names no single patient (a privacy officer's audit search,
 * an audit event's proof): allowed only by scope and this institution's own relationship,
 * since consent is per patient. One audit event either way.
 */
export async function forAnyPatient(
  service: FhirService,
  request: FastifyRequest,
  target: PatientRouteTarget,
  run: () => Promise<Answer>,
): Promise<Answer> {
  const queryString = request.url.split('?', 2)[1] ?? '';
  const { decision } = await checkAccess(service.access, {
    authorization: request.headers.authorization,
    request: {
      resourceType: target.resourceType,
      interaction: target.interaction,
      ...accessHeaders(request.headers),
    },
    subtype: target.subtype,
    resources: target.resources ?? [],
    ...(queryString ? { query: queryString } : {}),
    network: request.ip,
  });
  if (decision.allowed) return run();
  const status = decision.status === 200 ? 403 : decision.status;
  if (status === 404) return notFound();
  const id = { 401: 'unauthorized', 403: 'forbidden', 503: 'medledger-unavailable' }[status];
  const code = status === 503 ? 'transient' : status === 401 ? 'login' : 'forbidden';
  return {
    status,
    body: outcome(id, code, status === 401 ? 'Authentication required' : decision.reason),
    ...(status === 401 ? { headers: { 'www-authenticate': 'Bearer realm="medledger"' } } : {}),
  };
}

export const notFound = (): Answer => ({ status: 404, body: outcome('not-found', 'not-found', 'Not found') });

export async function answer(reply: FastifyReply, request: FastifyRequest, run: () => Promise<Answer>) {
  const query = request.query as Query;
  let result: Answer;
  try {
    result = await run();
  } catch (error) {
    result = errorAnswer(error);
    if (result.status >= 500) request.log.warn(error);
  }
  for (const [name, value] of Object.entries(result.headers ?? {})) reply.header(name, value);
  return sendFhir(reply, result.status, result.body, query);
}

function errorAnswer(error: unknown): Answer {
  const { status, outcome: body } = toOperationOutcome(error);
  return { status, body };
}

/** `patient=123`, `patient=Patient/123`, `subject=Patient/123`. */
export function namedPatient(query: Query): string | undefined {
  for (const name of ['patient', 'patient:Patient', 'subject', 'subject:Patient']) {
    const raw = query[name];
    const value = Array.isArray(raw) ? raw[0] : raw;
    if (!value) continue;
    if (name.startsWith('subject') && name === 'subject' && !value.includes('Patient/')) continue;
    return value.replace(/^.*Patient\//, '');
  }
  return undefined;
}
