/**
 * The FHIR R4 REST API's HTTP edge under `/fhir` (fastify). Thin: parse the body, decide
 * access once (one audit event), hand the request to Medplum's FhirRouter over a per-request
 * VaultRepository, and write the FHIR response (ETag, Last-Modified, Location, `Prefer`,
 * `_format`, `_pretty`). Every failure is an OperationOutcome (toOperationOutcome).
 * @see https://hl7.org/fhir/R4/http.html
 */
import { OperationOutcomeError } from '@medplum/core';
import type { HttpMethod } from '@medplum/fhir-router';
import type { Bundle, OperationOutcome, Resource } from '@medplum/fhirtypes';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AccessDecision } from '../access/authorizeAccess.ts';
import { auditAccess } from '../access/checkAccess.ts';
import type { RestInteraction } from '../audit/AuditSink.ts';
import type { NodeContext } from '../context/NodeContext.ts';
import { describeWithCauses } from '../errors/MedledgerError.ts';
import { registerAuditRoutes } from './audit/registerAuditRoutes.ts';
import { answerBatchPerEntry } from './batchPerEntry.ts';
import { registerBulkExportRoutes } from './bulk/registerBulkExportRoutes.ts';
import { capabilityStatement } from './capabilityStatement.ts';
import { registerConsentRoutes } from './consent/registerConsentRoutes.ts';
import { createFhirService } from './createFhirService.ts';
import { type AccessOutcome, decideAccess } from './decideAccess.ts';
import type { FhirService } from './FhirService.ts';
import { parseFhirBody, sendFhir } from './fhirHttp.ts';
import { NoticeDelivery } from './notify/NoticeDelivery.ts';
import { registerEmergencyLookup } from './operations/emergencyLookup.ts';
import { applyFhirPathPatch, isFhirPathPatch } from './operations/fhirPathPatch.ts';
import { checkHistoryParameters } from './operations/historyParameters.ts';
import { parseHistoryWindow } from './operations/historyWindow.ts';
import { compartmentPatients } from './patientCompartment.ts';
import type { RemoteRecords } from './RemoteRecords.ts';
import { OPEN_GUARD } from './ResourceGuard.ts';
import { type ShapedRequest, shapeRequest } from './shapeRequest.ts';
import { subsetBatchResponse, subsetBundle, subsetResource } from './subsetResource.ts';
import { outcome, statusOf, toOperationOutcome } from './toOperationOutcome.ts';
import { type RequestLog, VaultRepository } from './VaultRepository.ts';

export interface FhirRoutesOptions {
  /** Route prefix; `/fhir` in production. */
  prefix?: string;
  /**
   * Skip token, consent and audit (the bench's baseline only). createServer never sets it,
   * so it is not reachable in production.
   */
  unchecked?: boolean;
  /** Largest accepted body in bytes (default 16 MiB). */
  bodyLimit?: number;
  /** Records other custodians hold, for `$everything` (the exchange's; RemoteRecords.ts). */
  remoteRecords?: (service: FhirService) => RemoteRecords;
}

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;

export async function registerFhirRoutes(
  app: FastifyInstance,
  ctx: NodeContext,
  options: FhirRoutesOptions = {},
): Promise<FhirService> {
  const service = await createFhirService(ctx);
  service.remoteRecords = options.remoteRecords?.(service);
  if (ctx.config.breakGlassWebhook !== undefined) {
    const delivery = new NoticeDelivery(ctx, ctx.config.breakGlassWebhook);
    service.noticeWritten = () => delivery.wake();
    // One process of the node delivers; a notice queued by another wakes it through the database.
    ctx.work.on('notice', () => delivery.wake());
    ctx.leadership.elect(delivery);
    app.addHook('onClose', () => delivery.stop());
  }
  const prefix = options.prefix ?? '/fhir';
  await app.register(
    async (scope) => {
      scope.removeAllContentTypeParsers();
      scope.addContentTypeParser(
        '*',
        { parseAs: 'buffer', bodyLimit: options.bodyLimit ?? 16 * 1024 * 1024 },
        parseFhirBody,
      );
      scope.setErrorHandler((error: Error, _request, reply) => {
        const { status, outcome: result } = toOperationOutcome(error);
        if (status >= 500) ctx.logger.warn(`fhir: ${describeWithCauses(error)}`);
        return sendFhir(reply, status, result, {});
      });
      scope.setNotFoundHandler((_request, reply) =>
        sendFhir(reply, 404, outcome('not-found', 'not-found', 'No such route'), {}),
      );
      scope.get('/metadata', (request, reply) =>
        wrongFhirVersion(request.headers.accept)
          ? sendFhir(reply, 406, notR4(), {})
          : sendFhir(reply, 200, capabilityStatement(service), request.query as Record<string, string>),
      );
      // The CapabilityStatement is read-only: any other method is 405, not a conditional write.
      for (const method of ['POST', 'PUT', 'PATCH', 'DELETE'] as const)
        scope.route({
          method,
          url: '/metadata',
          handler: (_request, reply) =>
            sendFhir(
              reply.header('allow', 'GET'),
              405,
              outcome(
                'medledger-method-not-allowed',
                'not-supported',
                `${method} is not allowed on /metadata`,
              ),
              {},
            ),
        });
      const handler = (request: FastifyRequest, reply: FastifyReply) =>
        handle(service, options, request, reply);
      // Chain-derived Consent (and $grant/$revoke); anything else about Consent falls back to `handler`.
      if (!options.unchecked) {
        await registerConsentRoutes(scope, service, handler);
        await registerAuditRoutes(scope, service);
        registerEmergencyLookup(scope, service);
        await registerBulkExportRoutes(scope, service);
      }
      for (const method of METHODS) {
        scope.route({ method, url: '/', handler });
        scope.route({ method, url: '/*', handler });
      }
    },
    { prefix },
  );
  return service;
}

async function handle(
  service: FhirService,
  options: FhirRoutesOptions,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<FastifyReply> {
  const query = { ...(request.query as Record<string, string | string[] | undefined>) };
  const format = one(query._format);
  if (format && !/json/.test(format))
    return sendFhir(
      reply,
      406,
      outcome('medledger-not-acceptable', 'not-supported', 'Only JSON is supported'),
      query,
    );
  const accept = request.headers.accept;
  if (wrongFhirVersion(accept)) return sendFhir(reply, 406, notR4(), query);
  if (accept && !/json|\*\/\*/.test(accept) && !format)
    return sendFhir(
      reply,
      406,
      outcome('medledger-not-acceptable', 'not-supported', 'Only JSON is supported'),
      query,
    );
  const method = request.method as HttpMethod;
  const prefixLength = (options.prefix ?? '/fhir').length;
  const [rawPath = '', rawQuery = ''] = request.url.slice(prefixLength).split('?', 2) as [string, string?];
  const path = decodeURI(rawPath).replace(/^\/+|\/+$/g, '');
  const cleanQuery = new URLSearchParams(rawQuery);
  cleanQuery.delete('_format');
  cleanQuery.delete('_pretty');
  const queryString = cleanQuery.toString();
  let body = request.body;
  if (method === 'POST' && (path.endsWith('/_search') || path === '_search'))
    body = Object.fromEntries(new URLSearchParams(String(body ?? '')));
  else if (typeof body === 'string')
    // A form body is a search's parameters (POST .../_search); anywhere else it is not FHIR.
    return sendFhir(
      reply,
      415,
      outcome(
        'medledger-unsupported-media-type',
        'not-supported',
        'application/x-www-form-urlencoded is accepted only by POST [type]/_search; use application/fhir+json',
      ),
      query,
    );

  const route = service.router.find(method, path);
  if (!route) return sendFhir(reply, 404, outcome('not-found', 'not-found', 'No such route'), query);
  const interaction =
    route.data?.interaction === 'batch' && (body as { type?: string } | undefined)?.type === 'transaction'
      ? 'transaction'
      : (route.data?.interaction ?? 'operation');

  // A batch from anyone but this institution's own systems: each entry its own request
  // (batchPerEntry.ts).
  if (interaction === 'batch' && !options.unchecked && (body as Bundle | undefined)?.type === 'batch') {
    const principal = await service.access.tokens
      .authenticate(request.headers.authorization)
      .catch(() => undefined);
    if (principal && !(principal.kind === 'system' && principal.internal))
      return sendFhir(
        reply,
        200,
        await answerBatchPerEntry({
          request,
          prefix: options.prefix ?? '/fhir',
          baseUrl: service.baseUrl,
          bundle: body as Bundle,
        }),
        query,
      );
  }

  let guard = OPEN_GUARD;
  // The pre-decision look-up and the served read share one verified read (same request).
  const lookups = new VaultRepository(service, OPEN_GUARD);
  let access: AccessOutcome | undefined;
  const facts = {
    authorization: request.headers.authorization,
    headers: request.headers,
    network: request.ip,
    queryString,
  };
  if (!options.unchecked) {
    access = await decideAccess(
      service,
      lookups,
      { interaction, params: route.params, query: route.query ?? query, method, body },
      facts,
    );
    if (access.status !== 200 || !access.decision.allowed) {
      const status = access.status === 200 ? 403 : access.status;
      await audited(service, access, interaction, facts, { status, served: undefined });
      if (status === 401) reply.header('www-authenticate', 'Bearer realm="medledger"');
      const text =
        status === 404 ? 'Not found' : status === 401 ? 'Authentication required' : access.decision.reason;
      const id = { 401: 'unauthorized', 403: 'forbidden', 404: 'not-found', 503: 'medledger-unavailable' }[
        status
      ];
      const code =
        status === 404 ? 'not-found' : status === 503 ? 'transient' : status === 401 ? 'login' : 'forbidden';
      return sendFhir(reply, status, outcome(id, code, text), query);
    }
    guard = service.guardFor(access.principal, { purpose: access.decision.purpose });
  }
  const repo = lookups.withGuard(guard);
  // Served first, then the one audit event naming what was served, then the answer: nothing
  // leaves without its event (if the event cannot be written, the request fails).
  const answer = async (status: number, resource: Resource | undefined): Promise<void> => {
    if (access)
      await audited(service, access, interaction, facts, { status, served: servedBy(resource, repo.log) });
  };

  // `Prefer: handling`, misread parameters and `_summary` / `_elements` (applied after the audit).
  let shaped: ShapedRequest;
  try {
    checkHistoryParameters(interaction, query);
    if (interaction === 'history-instance') repo.setHistoryWindow(parseHistoryWindow(query));
    shaped = shapeRequest({
      interaction,
      method,
      params: route.params,
      query,
      queryString,
      body,
      prefer: one(request.headers.prefer),
      repo,
    });
  } catch (error) {
    if (!(error instanceof OperationOutcomeError)) throw error;
    await answer(400, undefined);
    return sendFhir(reply, 400, error.outcome, query);
  }
  body = shaped.body;
  const { subsetting } = shaped;

  if (method === 'PATCH' && isFhirPathPatch(body)) {
    const id = route.params.id;
    const type = route.params.resourceType;
    if (!id || !type)
      return sendFhir(reply, 400, outcome(undefined, 'invalid', 'FHIRPath Patch needs an id'), query);
    const current = await repo.readResource(type, id);
    const patched = applyFhirPathPatch(current, body);
    const ifMatch = current.meta?.versionId;
    const updated = await repo.updateResource(patched, ifMatch === undefined ? {} : { ifMatch });
    await answer(200, updated);
    return sendFhir(reply, 200, updated, query, one(request.headers.prefer));
  }

  const [result, resource] = await service.router.handleRequest(
    {
      method,
      url: shaped.queryString ? `${path}?${shaped.queryString}` : path,
      pathname: '',
      params: {},
      query: {},
      body,
      headers: request.headers,
      config: { transactions: true },
    },
    repo,
  );
  const status = statusOf(result);
  if (status >= 500) service.ctx.logger.warn(`fhir: ${JSON.stringify(result.issue?.[0]?.details)}`);
  await answer(status, status >= 400 ? undefined : resource);
  if (!resource || status >= 400) return sendFhir(reply, status, result, query);
  if (subsetting && shaped.reading)
    return sendFhir(
      reply,
      status,
      subsetResource(resource, subsetting),
      query,
      one(request.headers.prefer),
      result,
    );
  if ((interaction === 'batch' || interaction === 'transaction') && resource.resourceType === 'Bundle')
    return sendFhir(
      reply,
      status,
      subsetBatchResponse(body as Bundle, resource as Bundle),
      query,
      one(request.headers.prefer),
      result,
    );
  if (subsetting && shaped.searching && resource.resourceType === 'Bundle')
    return sendFhir(reply, status, subsetBundle(resource as Bundle, subsetting), query, undefined, result);
  // An update that created the resource (a new id, or a deleted one written again) is 201.
  const createdByPut =
    method === 'PUT' && status === 200 && repo.log.written.length === 1 && !repo.log.written[0]?.before;
  if (createdByPut) {
    reply.header(
      'location',
      `${service.baseUrl}/${resource.resourceType}/${resource.id}/_history/${resource.meta?.versionId ?? '1'}`,
    );
    return sendFhir(reply, 201, resource, query, one(request.headers.prefer), result);
  }
  if (status === 201) {
    reply.header(
      'location',
      `${service.baseUrl}/${resource.resourceType}/${resource.id}/_history/${resource.meta?.versionId ?? '1'}`,
    );
  }
  return sendFhir(reply, status, resource, query, one(request.headers.prefer), result);
}

/**
 * The request's one audit event: its decision (a refusal, or the answer's failure status), every
 * version served or written (`Type/id/_history/v`) and every patient those concern.
 */
async function audited(
  service: FhirService,
  access: AccessOutcome,
  interaction: string,
  facts: { network: string; queryString: string; authorization: string | undefined },
  answer: { status: number; served: Served | undefined },
): Promise<void> {
  const served = answer.served;
  const patients = new Set(access.perVersion ? [] : access.patients);
  for (const id of served?.patients ?? []) patients.add(id);
  const refs = served && served.refs.length > 0 ? served.refs : access.resources;
  let decision = access.decision;
  if (decision.allowed && answer.status >= 400)
    decision = {
      ...decision,
      allowed: false,
      status: answer.status as AccessDecision['status'],
      reason: `answered ${answer.status}`,
    };
  if (!decision.allowed && decision.status === 403 && answer.status === 404)
    decision = { ...decision, status: 404 };
  await auditAccess(
    service.access,
    {
      authorization: facts.authorization,
      request: access.request,
      subtype: interaction as RestInteraction,
      resources: refs,
      ...(facts.queryString ? { query: facts.queryString } : {}),
      network: facts.network,
      patients: [...patients],
    },
    { decision, principal: access.principal },
  );
}

interface Served {
  refs: string[];
  patients: string[];
}

/**
 * What an answer disclosed: every resource version in it (a Bundle's entries, nested batch
 * answers, includes), the deletions it listed, and what the request wrote; with their patients.
 */
function servedBy(resource: Resource | undefined, log: RequestLog): Served {
  const refs = new Set<string>();
  const patients = new Set<string>();
  const add = (r: Resource | undefined, ref?: string) => {
    if (!r?.id && !ref) return;
    refs.add(
      ref ?? `${r?.resourceType}/${r?.id}${r?.meta?.versionId ? `/_history/${r.meta.versionId}` : ''}`,
    );
    if (r) for (const id of compartmentPatients(r)) patients.add(id);
  };
  const walk = (r: Resource | undefined) => {
    if (!r) return;
    if (r.resourceType === 'Bundle') {
      for (const entry of (r as Bundle).entry ?? []) {
        if (entry.resource) walk(entry.resource);
        else if (entry.response?.etag && entry.fullUrl) {
          const ref = `${entry.fullUrl.replace(/^.*\/([A-Za-z]+\/[^/]+)$/, '$1')}/_history/${entry.response.etag.replace(/^W\/"|"$/g, '')}`;
          add(log.deletions.get(ref), ref);
        }
      }
    } else if (r.resourceType !== 'OperationOutcome') add(r);
  };
  walk(resource);
  for (const { resource: written, before, deleted } of log.written) {
    add(
      deleted ? before : written,
      `${written.resourceType}/${written.id}/_history/${written.meta?.versionId}`,
    );
    if (before) for (const id of compartmentPatients(before)) patients.add(id);
  }
  return { refs: [...refs], patients: [...patients] };
}

/** `Accept: application/fhir+json; fhirVersion=3.0`: this server speaks R4 (4.0) only. */
function wrongFhirVersion(accept: string | undefined): boolean {
  const version = /fhirVersion\s*=\s*"?([0-9.]+)/i.exec(accept ?? '')?.[1];
  return version !== undefined && !/^4\.0(\.|$)/.test(version);
}

function notR4(): OperationOutcome {
  return outcome(
    'medledger-not-acceptable',
    'not-supported',
    'This server supports FHIR R4 (fhirVersion=4.0) only',
  );
}

function one(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[value.length - 1] : value;
}
