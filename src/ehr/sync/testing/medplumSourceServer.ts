/**
 * Test helper: a FHIR server that is not medledger's code, standing in for an EHR: Medplum's
 * FhirRouter over its in-memory MemoryRepository, served over real HTTP by fastify, behind a
 * bearer token. It adds what the router leaves to the HTTP layer: a CapabilityStatement at
 * `/metadata` and `next` links on searchsets (by `_count` / `_offset`).
 */
import { getStatus } from '@medplum/core';
import type { FhirRequest, HttpMethod } from '@medplum/fhir-router';
import { FhirRouter, MemoryRepository } from '@medplum/fhir-router';
import type { Bundle, Resource } from '@medplum/fhirtypes';
import Fastify from 'fastify';
import { loadFhirDefinitions } from '../../../fhir/fhirDefinitions.ts';

export interface MedplumSourceServer {
  /** `http://127.0.0.1:PORT/fhir` */
  baseUrl: string;
  token: string;
  repo: MemoryRepository;
  /** Loads a Bundle (transaction or batch) as a batch; returns the created resources. */
  load(bundle: Bundle): Promise<Resource[]>;
  /** Resource types currently held. */
  types(): Promise<string[]>;
  requests: string[];
  close(): Promise<void>;
}

export async function startMedplumSourceServer(token = 'ehr-source-token'): Promise<MedplumSourceServer> {
  loadFhirDefinitions();
  const repo = new MemoryRepository();
  const router = new FhirRouter();
  const held = new Set<string>();
  const requests: string[] = [];
  const handle = async (method: HttpMethod, url: string, body?: unknown) => {
    const request: FhirRequest = {
      method,
      url,
      pathname: '',
      params: {},
      query: {},
      body,
      headers: {},
      config: {},
    };
    return router.handleRequest(request, repo);
  };
  const app = Fastify({ logger: false, bodyLimit: 64 * 1024 * 1024 });
  app.addContentTypeParser(
    ['application/fhir+json', 'application/json'],
    { parseAs: 'string' },
    (_r, text, done) => {
      try {
        done(null, JSON.parse(text as string));
      } catch (error) {
        done(error as Error);
      }
    },
  );
  app.addHook('onRequest', async (request, reply) => {
    requests.push(`${request.method} ${request.url}`);
    if (request.headers.authorization !== `Bearer ${token}`)
      await reply.code(401).send({ error: 'unauthorized' });
  });
  app.get('/fhir/metadata', async () => ({
    resourceType: 'CapabilityStatement',
    status: 'active',
    kind: 'instance',
    fhirVersion: '4.0.1',
    format: ['json'],
    rest: [
      {
        mode: 'server',
        resource: [...held]
          .sort()
          .map((type) => ({ type, interaction: [{ code: 'read' }, { code: 'search-type' }] })),
      },
    ],
  }));
  app.all('/fhir/*', async (request, reply) => {
    const url = request.url.slice('/fhir/'.length);
    const [outcome, resource] = await handle(request.method as HttpMethod, url, request.body);
    const status = getStatus(outcome);
    const body = resource ?? outcome;
    if (body.resourceType === 'Bundle' && body.type === 'searchset') {
      const query = new URLSearchParams(url.split('?')[1] ?? '');
      const count = Number(query.get('_count') ?? 20);
      const offset = Number(query.get('_offset') ?? 0);
      if (body.total !== undefined && offset + count < body.total) {
        query.set('_offset', String(offset + count));
        body.link = [{ relation: 'next', url: `${baseUrl}/${url.split('?')[0]}?${query}` }];
      }
    }
    return reply.code(status).header('content-type', 'application/fhir+json').send(JSON.stringify(body));
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const baseUrl = `http://127.0.0.1:${port}/fhir`;
  return {
    baseUrl,
    token,
    repo,
    requests,
    async load(bundle) {
      const [outcome, result] = await handle('POST', '', { ...bundle, type: 'batch' });
      if (outcome.issue?.[0]?.severity === 'error') throw new Error(JSON.stringify(outcome));
      const created = ((result as Bundle).entry ?? []).flatMap((e) => (e.resource ? [e.resource] : []));
      for (const r of created) held.add(r.resourceType);
      return created;
    },
    async types() {
      return [...held].sort();
    },
    close: () => app.close(),
  };
}
