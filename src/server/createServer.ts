/**
 * The node's HTTP edge (fastify): readiness, and the FHIR API as later modules add it.
 * Thin: every route calls plain functions over the node context.
 */
import helmet from '@fastify/helmet';
import Fastify, { type FastifyInstance } from 'fastify';
import { registerAuthRoutes } from '../access/registerAuthRoutes.ts';
import { registerClaimRoute } from '../ehr/registerClaimRoute.ts';
import { registerFhirRoutes } from '../fhir/registerFhirRoutes.ts';
import type { NodeContext } from '../node/startNode.ts';
import { readiness } from './readiness.ts';

export async function createServer(ctx: NodeContext): Promise<FastifyInstance> {
  const app = Fastify({ logger: false, bodyLimit: 16 * 1024 * 1024 });
  await app.register(helmet, { contentSecurityPolicy: false });
  app.get('/healthz', async (_request, reply) => {
    const report = await readiness(ctx);
    return reply.code(report.ready ? 200 : 503).send(report);
  });
  await registerAuthRoutes(app, ctx);
  const fhir = await registerFhirRoutes(app, ctx);
  await registerClaimRoute(app, fhir);
  return app;
}
