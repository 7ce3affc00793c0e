/**
 * The audit log's HTTP edge under `/fhir` (registered inside the FHIR scope):
 *
 * - `GET Patient/{id}/$access-report?start=&end=`: the accounting of disclosures (HIPAA
 *   45 CFR 164.528): every AuditEvent about the patient with its inclusion proof, batch root
 *   and anchoring transaction, checkable with viem alone (src/verify/standaloneReportCheck.ts).
 * - `GET AuditEvent?patient=…` (and `Patient/{id}/AuditEvent`): the patient's events, for the
 *   patient, their delegates and privacy officers per scopes; `date`, `agent`, `action`,
 *   `outcome`, `_count`. Without `patient`: this institution's officers only.
 * - `GET AuditEvent/{id}/$proof`, `GET {type}/{id}/_history/{vid}/$proof`: inclusion proofs.
 *
 * Every request is decided and audited once (the report's reading is that event).
 */
import type { Bundle, Resource } from '@medplum/fhirtypes';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { auditContextOf } from '../../audit/AuditContext.ts';
import { accessReport } from '../../audit/accessReport.ts';
import { auditEventProof } from '../../audit/auditEventProof.ts';
import { recordVersionProof } from '../../audit/recordVersionProof.ts';
import { searchAuditEvents } from '../../audit/searchAuditEvents.ts';
import type { FhirService } from '../FhirService.ts';
import { compartmentPatients } from '../patientCompartment.ts';
import {
  type Answer,
  answer,
  forAnyPatient,
  forPatient,
  namedPatient,
  type PatientRouteTarget,
  type Query,
} from '../patientRoute.ts';
import { OPEN_GUARD } from '../ResourceGuard.ts';
import { VaultRepository } from '../VaultRepository.ts';

type Params = { id?: string; type?: string; vid?: string };

const one = (value: string | string[] | undefined) => (Array.isArray(value) ? value[0] : value);

export async function registerAuditRoutes(scope: FastifyInstance, service: FhirService): Promise<void> {
  const audit = () => auditContextOf(service.ctx);

  scope.get('/Patient/:id/$access-report', (request, reply) =>
    answer(reply, request, () => {
      const { id } = request.params as Params;
      const query = request.query as Query;
      return forPatient(
        service,
        request,
        id,
        {
          resourceType: 'AuditEvent',
          interaction: 'r',
          subtype: 'operation',
          resources: [`Patient/${id}/$access-report`],
        },
        async (r) => {
          const start = one(query.start);
          const end = one(query.end);
          const report = await accessReport(audit(), {
            patientId: r.patientId,
            ...(start ? { start } : {}),
            ...(end ? { end } : {}),
            alreadyAudited: true,
          });
          return { status: 200, body: report as unknown as Resource };
        },
      );
    }),
  );

  const search = (request: FastifyRequest, patientId: string | undefined): Promise<Answer> => {
    const query = request.query as Query;
    const run = async (): Promise<Answer> => {
      const count = Number(one(query._count) ?? 50);
      const found = await searchAuditEvents(audit(), {
        ...(patientId ? { patient: `Patient/${patientId}` } : {}),
        ...(one(query.agent) ? { agent: one(query.agent)! } : {}),
        ...(query.date ? { date: query.date } : {}),
        ...(one(query.action) ? { action: one(query.action)! } : {}),
        ...(one(query.outcome) ? { outcome: one(query.outcome)! } : {}),
        _count: Number.isInteger(count) && count > 0 ? Math.min(count, 1000) : 50,
      });
      const bundle: Bundle = {
        resourceType: 'Bundle',
        type: 'searchset',
        entry: found.resources.map((resource) => ({
          fullUrl: `${service.baseUrl}/AuditEvent/${resource.id}`,
          resource: resource as unknown as Resource,
          search: { mode: 'match' },
        })),
      };
      return { status: 200, body: bundle };
    };
    const target = { resourceType: 'AuditEvent', interaction: 's', subtype: 'search-type' } as const;
    return patientId === undefined
      ? forAnyPatient(service, request, target, run)
      : forPatient(service, request, patientId, target, run);
  };
  scope.get('/AuditEvent', (request, reply) =>
    answer(reply, request, () => search(request, namedPatient(request.query as Query))),
  );
  scope.get('/Patient/:id/AuditEvent', (request, reply) =>
    answer(reply, request, () => search(request, (request.params as Params).id ?? '')),
  );

  scope.get('/AuditEvent/:id/$proof', (request, reply) =>
    answer(reply, request, () => {
      const { id = '' } = request.params as Params;
      return forAnyPatient(
        service,
        request,
        {
          resourceType: 'AuditEvent',
          interaction: 'r',
          subtype: 'operation',
          resources: [`AuditEvent/${id}/$proof`],
        },
        async () => ({
          status: 200,
          body: (await auditEventProof(audit(), id)).parameters as unknown as Resource,
        }),
      );
    }),
  );

  scope.get('/:type/:id/_history/:vid/$proof', (request, reply) =>
    answer(reply, request, async () => {
      const { type = '', id = '', vid = '' } = request.params as Params;
      const target: PatientRouteTarget = {
        resourceType: type,
        interaction: 'r',
        subtype: 'operation',
        resources: [`${type}/${id}/_history/${vid}/$proof`],
        refusedAsNotFound: true,
      };
      const prove = async (): Promise<Answer> => ({
        status: 200,
        body: (await recordVersionProof(audit(), service.ctx.vault.reader(), type, id, vid))
          .parameters as unknown as Resource,
      });
      // The proof of a version is as private as the version: decide as for reading it.
      const resource = await new VaultRepository(service, OPEN_GUARD).peek(type, id);
      const patientId = type === 'Patient' ? id : resource ? compartmentPatients(resource)[0] : undefined;
      return patientId === undefined
        ? forAnyPatient(service, request, target, prove)
        : forPatient(service, request, patientId, target, prove);
    }),
  );
}
