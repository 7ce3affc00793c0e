/**
 * FHIR Bulk Data Access export under `/fhir` (INTERFACE.md):
 *
 * - kick-off: `GET $export`, `GET Patient/$export`, `GET Group/{id}/$export` with
 *   `Prefer: respond-async` → 202 and `Content-Location` of the job's status URL;
 * - status: `GET $export-status/{job}` → 202 with `X-Progress` and `Retry-After` while running,
 *   200 with the manifest when done, 500 with an OperationOutcome when the job failed;
 * - cancel: `DELETE $export-status/{job}` → 202, the job and its files are deleted;
 * - files: `GET $export-file/{job}/{name}` → `application/fhir+ndjson`.
 *
 * Only the client (and user) that started a job may poll, download or cancel it; anyone else
 * gets 404. Kick-off, the completed manifest, each download and cancellation are audited.
 * @see https://hl7.org/fhir/uv/bulkdata/export.html
 */
import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AccessError } from '../../access/AccessError.ts';
import { auditDecision } from '../../access/auditDecision.ts';
import type { Principal } from '../../access/Principal.ts';
import { MedledgerError } from '../../errors/MedledgerError.ts';
import type { FhirService } from '../FhirService.ts';
import { outcome, toOperationOutcome } from '../toOperationOutcome.ts';
import { BulkExportError } from './BulkExportError.ts';
import { BulkExportRunner } from './BulkExportRunner.ts';
import { decideExportKickOff } from './decideExportKickOff.ts';
import { exportJobUrn, manifestUrn } from './exportAudit.ts';
import {
  createExportJob,
  type ExportJob,
  failInterruptedExportJobs,
  listExportFiles,
  newJobId,
  ownerHash,
  readExportFile,
  readExportJob,
} from './exportJobs.ts';
import { exportManifest } from './exportManifest.ts';
import { type ExportLevel, parseExportParameters } from './exportParameters.ts';

type Query = Record<string, string | string[] | undefined>;

export async function registerBulkExportRoutes(scope: FastifyInstance, service: FhirService): Promise<void> {
  const { ctx } = service;
  const failed = await failInterruptedExportJobs(ctx.db);
  if (failed > 0)
    ctx.logger.warn(`bulk export: ${failed} jobs interrupted by the last stop were marked failed`);
  const runner = new BulkExportRunner(service);
  const retentionSeconds = ctx.config.exportRetentionSeconds;
  runner.startExpiring(retentionSeconds);
  scope.addHook('onClose', () => runner.stop());

  const kickOff = (level: ExportLevel) => (request: FastifyRequest, reply: FastifyReply) =>
    guarded(reply, async () => {
      const groupId = (request.params as { id?: string }).id;
      const parameters = parseExportParameters(level, request.query as Query, request.headers, groupId);
      const id = newJobId();
      const { decision, principal, purpose, breakGlassReason } = await decideExportKickOff(
        service,
        parameters,
        {
          authorization: request.headers.authorization,
          headers: request.headers,
          network: request.ip,
          queryString: request.url.split('?', 2)[1] ?? '',
          jobUrn: exportJobUrn(id),
        },
      );
      if (!decision.allowed || !principal) return denied(reply, decision.status, decision.reason);
      const transactionTime = new Date().toISOString();
      await createExportJob(ctx.db, ctx.keyring, {
        id,
        owner: ownerHash(principal),
        transactionTime,
        request: {
          parameters,
          requestUrl: `${service.baseUrl}${request.url.replace(/^\/fhir/, '')}`,
          principal,
          purpose,
          ...(breakGlassReason ? { breakGlassReason } : {}),
        },
      });
      runner.enqueue(id);
      reply.header('content-location', `${service.baseUrl}/$export-status/${id}`);
      return fhir(reply, 202, outcome(undefined, 'informational', `Export job ${id} accepted`));
    });

  scope.get('/$export', kickOff('system'));
  scope.get('/Patient/$export', kickOff('patient'));
  scope.get('/Group/:id/$export', kickOff('group'));

  scope.get('/$export-status/:job', (request, reply) =>
    guarded(reply, async () => {
      const principal = await authenticated(service, request);
      const job = await ownJob(service, request, principal);
      if (job.status === 'in-progress') {
        reply.header('x-progress', job.progress ?? 'running').header('retry-after', '2');
        return reply.code(202).send();
      }
      if (job.status === 'failed')
        return fhir(
          reply,
          500,
          outcome(undefined, 'exception', `The export failed: ${job.error ?? 'unknown error'}`),
        );
      if (job.status !== 'completed') throw new BulkExportError('ERR_BULK_NOT_FOUND', 'No such export job');
      const files = await listExportFiles(ctx.db, job.id);
      // The manifest names what was exported (types, counts, for a patient-level export whose): an
      // access like a file's. Polls while the job runs show only progress and are not audited.
      await auditJobAccess(service, request, principal, job, 'r', [manifestUrn(job.id)], 'manifest');
      // The files are deleted at this time (https://hl7.org/fhir/uv/bulkdata/export.html#response---complete-status).
      const finished = Date.parse(job.completedAt ?? job.transactionTime);
      return reply
        .code(200)
        .header('expires', new Date(finished + retentionSeconds * 1000).toUTCString())
        .header('content-type', 'application/json; charset=utf-8')
        .send(JSON.stringify(exportManifest(service.baseUrl, job, files)));
    }),
  );

  scope.delete('/$export-status/:job', (request, reply) =>
    guarded(reply, async () => {
      const principal = await authenticated(service, request);
      const job = await ownJob(service, request, principal);
      await runner.cancel(job.id);
      await auditJobAccess(service, request, principal, job, 'd', [exportJobUrn(job.id)], 'cancel');
      return fhir(
        reply,
        202,
        outcome(undefined, 'informational', `Export job ${job.id} cancelled and deleted`),
      );
    }),
  );

  scope.get('/$export-file/:job/:name', (request, reply) =>
    guarded(reply, async () => {
      const principal = await authenticated(service, request);
      const job = await ownJob(service, request, principal);
      const { name = '' } = request.params as { name?: string };
      if (job.status !== 'completed') throw new BulkExportError('ERR_BULK_NOT_FOUND', 'No such export file');
      const bytes = await readExportFile(ctx.db, ctx.keyring, job.id, name);
      await auditJobAccess(
        service,
        request,
        principal,
        job,
        'r',
        [`${exportJobUrn(job.id)}/${name}`],
        'file',
      );
      return reply.code(200).header('content-type', 'application/fhir+ndjson').send(bytes);
    }),
  );
}

async function authenticated(service: FhirService, request: FastifyRequest): Promise<Principal> {
  return service.access.tokens.authenticate(request.headers.authorization);
}

/** The job, if the caller started it; anyone else's (or none) is 404. */
async function ownJob(service: FhirService, request: FastifyRequest, known?: Principal): Promise<ExportJob> {
  const principal = known ?? (await authenticated(service, request));
  const { job: id = '' } = request.params as { job?: string };
  const job = await readExportJob(service.ctx.db, service.ctx.keyring, id);
  const owner = ownerHash(principal);
  if (!timingSafeEqual(owner, job.ownerHash))
    throw new BulkExportError('ERR_BULK_NOT_FOUND', 'No such export job');
  return job;
}

async function auditJobAccess(
  service: FhirService,
  request: FastifyRequest,
  principal: Principal,
  job: ExportJob,
  interaction: 'r' | 'd',
  resources: string[],
  what: 'manifest' | 'file' | 'cancel',
): Promise<void> {
  await service.ctx.audit.append(
    auditDecision({
      principal,
      request: {
        resourceType: job.request.parameters.types?.join(',') ?? '*',
        interaction,
        ...(principal.kind === 'patient' && principal.patient ? { patientId: principal.patient } : {}),
      },
      decision: {
        allowed: true,
        status: 200,
        reason: {
          manifest: 'bulk export manifest of the requester',
          file: 'bulk export file of the requester',
          cancel: 'bulk export cancelled by the requester',
        }[what],
        basis: 'none',
        purpose: job.request.purpose,
      },
      observer: service.ctx.identity.account.address,
      subtype: 'operation',
      resources,
      network: request.ip,
    }),
  );
}

async function guarded(reply: FastifyReply, run: () => Promise<FastifyReply>): Promise<FastifyReply> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof AccessError) {
      reply.header('www-authenticate', 'Bearer realm="medledger"');
      return fhir(reply, 401, outcome('unauthorized', 'login', 'Authentication required'));
    }
    const answer = toOperationOutcome(error);
    if (error instanceof MedledgerError && answer.status < 500)
      return fhir(reply, answer.status, answer.outcome);
    throw error;
  }
}

function denied(reply: FastifyReply, status: number, reason: string): FastifyReply {
  if (status === 401) reply.header('www-authenticate', 'Bearer realm="medledger"');
  if (status === 404) return fhir(reply, 404, outcome('not-found', 'not-found', 'Not found'));
  const code = status === 503 ? 'transient' : status === 401 ? 'login' : 'forbidden';
  return fhir(reply, status, outcome(undefined, code, status === 401 ? 'Authentication required' : reason));
}

function fhir(reply: FastifyReply, status: number, body: unknown): FastifyReply {
  return reply
    .code(status)
    .header('content-type', 'application/fhir+json; charset=utf-8')
    .send(JSON.stringify(body));
}
