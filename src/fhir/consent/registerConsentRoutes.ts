/**
 * The HTTP edge of chain-derived consent under `/fhir` (registered inside the FHIR scope, so
 * body parsing and errors behave as for every FHIR route):
 *
 * - `GET Consent?patient=…`, `GET Patient/{id}/Consent`, `GET Consent/{chain id}`: the
 *   patient's grants as Consent resources, built from the indexer's tables and the outbox.
 * - `POST Patient/{id}/$grant`, `POST Patient/{id}/$revoke`: relay a patient-signed EIP-712
 *   message; 202 Accepted with the Consent (proposed) and its Location, or with `?wait=true`
 *   200 once mined and indexed.
 * - `GET Patient/{id}/$consent-typed-data`: the typed data the patient's wallet signs.
 *
 * Each request makes one checkAccess call (one audit event) as resource type Consent in the
 * patient's compartment. Other Consent requests (stored consent documents, which never
 * decide access) fall through to the generic FHIR handler.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteHandlerMethod } from 'fastify';
import type { FhirService } from '../FhirService.ts';
import {
  grantConsentOperation,
  revokeConsentOperation,
  typedDataOperation,
} from '../operations/consentOperations.ts';
import { delegateOperation, delegateTypedDataOperation } from '../operations/delegateOperations.ts';
import {
  type AllowedPatientRequest,
  type Answer,
  answer,
  forPatient,
  namedPatient,
  notFound,
  type PatientRouteTarget,
  type Query,
} from '../patientRoute.ts';
import { outcome } from '../toOperationOutcome.ts';
import { isChainConsentId } from './consentId.ts';
import { consentBundle, consentResourceOf } from './consentResources.ts';

type Params = { id?: string };

export async function registerConsentRoutes(
  scope: FastifyInstance,
  service: FhirService,
  fallback: RouteHandlerMethod,
): Promise<void> {
  const onPatient =
    (target: Omit<PatientRouteTarget, 'resourceType'>, run: (r: AllowedPatientRequest) => Promise<Answer>) =>
    (request: FastifyRequest, reply: FastifyReply) =>
      answer(reply, request, () =>
        forPatient(
          service,
          request,
          (request.params as Params).id,
          { resourceType: 'Consent', ...target },
          run,
        ),
      );

  scope.get('/Patient/:id/Consent', onPatient({ interaction: 's', subtype: 'search-type' }, searchAnswer));
  scope.post(
    '/Patient/:id/$grant',
    onPatient({ interaction: 'c', subtype: 'operation' }, grantConsentOperation),
  );
  scope.post(
    '/Patient/:id/$revoke',
    onPatient({ interaction: 'u', subtype: 'operation' }, revokeConsentOperation),
  );
  scope.get(
    '/Patient/:id/$consent-typed-data',
    onPatient({ interaction: 'r', subtype: 'operation' }, typedDataOperation),
  );
  scope.post(
    '/Patient/:id/$delegate',
    onPatient({ interaction: 'c', subtype: 'operation' }, delegateOperation),
  );
  scope.get(
    '/Patient/:id/$delegate-typed-data',
    onPatient({ interaction: 'r', subtype: 'operation' }, delegateTypedDataOperation),
  );

  scope.get('/Consent', async function (request, reply) {
    const query = request.query as Query;
    let patientId = namedPatient(query);
    if (patientId === undefined) {
      const principal = await service.access.tokens
        .authenticate(request.headers.authorization)
        .catch(() => undefined);
      if (principal?.kind !== 'patient' || principal.patient === undefined)
        return fallback.call(this, request, reply);
      patientId = principal.patient;
    }
    return answer(reply, request, () =>
      forPatient(
        service,
        request,
        patientId,
        { resourceType: 'Consent', interaction: 's', subtype: 'search-type' },
        searchAnswer,
      ),
    );
  });

  scope.get('/Consent/:id', async function (request, reply) {
    const { id = '' } = request.params as Params;
    if (!isChainConsentId(id)) return fallback.call(this, request, reply);
    return answer(reply, request, async () => {
      const found = await consentResourceOf(service, id);
      return forPatient(
        service,
        request,
        found?.patientId,
        { resourceType: 'Consent', interaction: 'r', subtype: 'read', resources: [`Consent/${id}`] },
        async () => (found ? { status: 200, body: found.consent } : notFound()),
      );
    });
  });

  // A chain-derived Consent changes only by a signed message ($grant, $revoke).
  for (const method of ['PUT', 'PATCH', 'DELETE'] as const) {
    scope.route({
      method,
      url: '/Consent/:id',
      handler: async function (request, reply) {
        const { id = '' } = request.params as Params;
        if (!isChainConsentId(id)) return fallback.call(this, request, reply);
        return answer(reply, request, async () => {
          const found = await consentResourceOf(service, id);
          return forPatient(
            service,
            request,
            found?.patientId,
            {
              resourceType: 'Consent',
              interaction: method === 'DELETE' ? 'd' : 'u',
              subtype: method === 'DELETE' ? 'delete' : 'update',
            },
            async () => ({
              status: 405,
              body: outcome(
                'medledger-method-not-allowed',
                'not-supported',
                'This Consent is derived from the chain; change it with a patient-signed Patient/{id}/$grant or $revoke',
              ),
            }),
          );
        });
      },
    });
  }
}

async function searchAnswer(r: AllowedPatientRequest): Promise<Answer> {
  const status = r.query.status;
  const statuses = (Array.isArray(status) ? status : status ? [status] : []).flatMap((s) => s.split(','));
  return { status: 200, body: await consentBundle(r.service, r.patientId, r.patientAddress, statuses) };
}
