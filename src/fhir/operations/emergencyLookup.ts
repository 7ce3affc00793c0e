/**
 * `POST /fhir/Patient/$emergency-lookup` (a Parameters body) or `GET` with the same names: how a
 * clinician in an emergency finds the patient to break the glass for, when that patient never
 * consented to them and so appears in no list. By `family` and `birthdate` (exact; `given`
 * narrows), or by `identifier` (`system|value`, exact). Only this institution's practitioners, with
 * purpose `ETREAT` and a reason (`X-Purpose-Of-Use`, `X-Break-Glass-Reason`), may ask; the answer
 * carries only what it takes to pick the patient (id, name, gender, birth date) and at most
 * {@link MAX_CANDIDATES} of them, and the lookup opens nothing: the clinician then reads the
 * chosen patient with the same headers, which opens break-glass for that one patient.
 *
 * The lookup is audited as one event naming every patient it answered with (each finds it in
 * their access report), with the query and the reason.
 */
import { parseSearchRequest } from '@medplum/core';
import type { Bundle, Patient } from '@medplum/fhirtypes';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AccessDecision } from '../../access/authorizeAccess.ts';
import { accessHeaders, auditAccess } from '../../access/checkAccess.ts';
import type { Principal } from '../../access/Principal.ts';
import { scopeAllows } from '../../access/scopes.ts';
import { MedledgerError } from '../../errors/MedledgerError.ts';
import { type ParameterValues, parameterValues, queryValues } from '../consent/consentParameters.ts';
import type { FhirService } from '../FhirService.ts';
import { answer, type Query } from '../patientRoute.ts';
import { OPEN_GUARD } from '../ResourceGuard.ts';
import { outcome } from '../toOperationOutcome.ts';
import { VaultRepository } from '../VaultRepository.ts';

export const MAX_CANDIDATES = 10;

export function registerEmergencyLookup(scope: FastifyInstance, service: FhirService): void {
  const handler = (request: FastifyRequest, reply: Parameters<typeof answer>[0]) =>
    answer(reply, request, () =>
      lookup(
        service,
        request,
        request.method === 'GET' ? queryValues(request.query as Query) : parameterValues(request.body),
      ),
    );
  scope.get('/Patient/$emergency-lookup', handler);
  scope.post('/Patient/$emergency-lookup', handler);
}

async function lookup(service: FhirService, request: FastifyRequest, values: ParameterValues) {
  const one = (name: string) => values.get(name)?.[0]?.trim() || undefined;
  const family = one('family');
  const birthdate = one('birthdate');
  const given = one('given');
  const identifier = one('identifier');
  const headers = accessHeaders(request.headers);
  const purpose = headers.purpose ?? 'TREAT';
  const principal = await service.access.tokens
    .authenticate(request.headers.authorization)
    .catch(() => undefined);
  const query = [...values].map(([k, v]) => `${k}=${v.join(',')}`).join('&');

  const refuse = async (status: AccessDecision['status'], reason: string) => {
    await audit(
      service,
      request,
      principal,
      { allowed: false, status, reason, basis: 'none', purpose },
      [],
      query,
      headers,
    );
    const id = { 401: 'unauthorized', 403: 'forbidden', 404: 'not-found', 503: 'medledger-unavailable' }[
      status as 401 | 403 | 404 | 503
    ];
    return {
      status,
      body: outcome(
        id,
        status === 401 ? 'login' : 'forbidden',
        status === 401 ? 'Authentication required' : reason,
      ),
      ...(status === 401 ? { headers: { 'www-authenticate': 'Bearer realm="medledger"' } } : {}),
    };
  };
  if (!principal) return refuse(401, 'no valid access token');
  if (principal.kind !== 'practitioner' || !principal.internal)
    return refuse(403, "the emergency lookup is for this institution's practitioners only");
  if (purpose !== 'ETREAT' || !headers.breakGlassReason)
    return refuse(403, 'the emergency lookup needs X-Purpose-Of-Use: ETREAT and an X-Break-Glass-Reason');
  if (
    !scopeAllows(principal.scopes, { context: principal.context, resourceType: 'Patient', interaction: 's' })
  )
    return refuse(403, 'scope does not allow search on Patient');
  if (identifier === undefined && (family === undefined || birthdate === undefined))
    throw new MedledgerError(
      'ERR_FHIR_INVALID',
      'the emergency lookup needs family and birthdate (given narrows), or identifier (system|value)',
    );
  if (birthdate !== undefined && !/^\d{4}-\d{2}-\d{2}$/.test(birthdate))
    throw new MedledgerError('ERR_FHIR_INVALID', 'birthdate must be a full date (YYYY-MM-DD)');

  const search: Record<string, string> =
    identifier !== undefined
      ? { identifier }
      : { family: family as string, birthdate: birthdate as string, ...(given ? { given } : {}) };
  const found = await new VaultRepository(service, OPEN_GUARD).searchResources<Patient>(
    parseSearchRequest('Patient', { ...search, _count: String(MAX_CANDIDATES + 1) }),
  );
  // The index matches prefixes of names; an emergency lookup answers exact matches only.
  const exact = found.filter(
    (p) =>
      identifier !== undefined ||
      (p.birthDate === birthdate &&
        (p.name ?? []).some(
          (n) =>
            n.family?.toLowerCase() === family?.toLowerCase() &&
            (given === undefined || (n.given ?? []).some((g) => g.toLowerCase() === given.toLowerCase())),
        )),
  );
  if (exact.length > MAX_CANDIDATES) {
    await audit(
      service,
      request,
      principal,
      {
        allowed: false,
        status: 403,
        reason: 'too many candidates: narrow the lookup',
        basis: 'none',
        purpose,
      },
      [],
      query,
      headers,
    );
    throw new MedledgerError(
      'ERR_FHIR_INVALID',
      `more than ${MAX_CANDIDATES} patients match: add given, or look up by identifier`,
    );
  }
  const ids = exact.map((p) => p.id as string);
  await audit(
    service,
    request,
    principal,
    {
      allowed: true,
      status: 200,
      reason: `emergency patient lookup: ${ids.length} candidate(s), only what it takes to pick one`,
      basis: 'emergency-lookup',
      purpose,
    },
    ids,
    query,
    headers,
  );
  const bundle: Bundle<Patient> = {
    resourceType: 'Bundle',
    type: 'searchset',
    total: exact.length,
    entry: exact.map((p) => ({
      fullUrl: `${service.baseUrl}/Patient/${p.id}`,
      resource: pickable(p),
      search: { mode: 'match' },
    })),
  };
  return { status: 200, body: bundle };
}

/** What it takes to pick a patient: no address, contact, identifier value or clinical detail. */
function pickable(p: Patient): Patient {
  return {
    resourceType: 'Patient',
    id: p.id as string,
    meta: {
      tag: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue', code: 'SUBSETTED' }],
    },
    ...(p.name
      ? {
          name: p.name.map((n) => ({
            ...(n.family ? { family: n.family } : {}),
            ...(n.given ? { given: n.given } : {}),
          })),
        }
      : {}),
    ...(p.gender ? { gender: p.gender } : {}),
    ...(p.birthDate ? { birthDate: p.birthDate } : {}),
  };
}

async function audit(
  service: FhirService,
  request: FastifyRequest,
  principal: Principal | undefined,
  decision: AccessDecision,
  patients: readonly string[],
  query: string,
  headers: ReturnType<typeof accessHeaders>,
): Promise<void> {
  await auditAccess(
    service.access,
    {
      authorization: request.headers.authorization,
      request: { resourceType: 'Patient', interaction: 's', ...headers },
      subtype: 'operation',
      resources: ['Patient/$emergency-lookup'],
      ...(query ? { query } : {}),
      network: request.ip,
      patients,
    },
    { decision, principal },
  );
}
