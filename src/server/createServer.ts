/**
 * The node's HTTP edge (fastify): readiness, and the FHIR API as later modules add it.
 * Thin: every route calls plain functions over the node context.
 */
import helmet from '@fastify/helmet';
import Fastify, { type FastifyInstance } from 'fastify';
import type { PatientPicker } from '../access/PatientPicker.ts';
import { registerAuthRoutes } from '../access/registerAuthRoutes.ts';
import type { NodeContext } from '../context/NodeContext.ts';
import { everythingFromCustodians } from '../exchange/everythingFromCustodians.ts';
import { registerExchangeRoutes } from '../exchange/registerExchangeRoutes.ts';
import { registerIdentityRoutes } from '../fhir/identity/registerIdentityRoutes.ts';
import { patientPickerOf } from '../fhir/patientPicker.ts';
import { registerFhirRoutes } from '../fhir/registerFhirRoutes.ts';
import { registerPortal } from '../portal/registerPortal.ts';
import { readiness } from './readiness.ts';
import { registerCompression } from './registerCompression.ts';
import { registerApiRateLimit } from './security/apiRateLimit.ts';
import { limitBodyDepth } from './security/bodyDepthLimit.ts';
import { noStoreByDefault } from './security/noStore.ts';
import {
  answerErrorsWithOutcomes,
  clientErrorOutcome,
  frameworkErrorOutcome,
} from './security/outcomeErrors.ts';
import { registerCors } from './security/registerCors.ts';
import { rejectNulBytes } from './security/rejectNulBytes.ts';
import { tlsServerOptions } from './security/tlsOptions.ts';

export async function createServer(ctx: NodeContext): Promise<FastifyInstance> {
  const https = ctx.config.tls ? { https: tlsServerOptions(ctx.config.tls) } : {};
  const app = Fastify({
    logger: false,
    bodyLimit: 16 * 1024 * 1024,
    frameworkErrors: frameworkErrorOutcome,
    clientErrorHandler: clientErrorOutcome,
    // Building the FHIR router parses the R4 definitions: on a busy machine that outlasts fastify's 10 s default.
    pluginTimeout: 120_000,
    ...https,
  }) as unknown as FastifyInstance;
  await app.register(helmet, { contentSecurityPolicy: false });
  // Browser apps on other origins (CORS requests; helmet's resource policy bounds only no-cors ones).
  await registerCors(app, ctx.config.corsOrigins);
  noStoreByDefault(app);
  answerErrorsWithOutcomes(app, ctx.logger);
  app.get('/healthz', async (_request, reply) => {
    const report = await readiness(ctx);
    return reply.code(report.ready ? 200 : 503).send(report);
  });
  let patientPicker: PatientPicker | undefined;
  await registerAuthRoutes(app, ctx, { patientPicker: () => patientPicker });
  // The FHIR API (and $claim) in one scope, rate-limited per client; the auth routes keep their own limit.
  await app.register(async (api) => {
    await registerApiRateLimit(api, ctx, { perMinute: ctx.config.rateLimitPerMinute });
    await registerCompression(api);
    limitBodyDepth(api);
    rejectNulBytes(api);
    const fhir = await registerFhirRoutes(api, ctx, {
      remoteRecords: (service) => (patient, req) => everythingFromCustodians(service, patient, req),
    });
    patientPicker = patientPickerOf(fhir);
    await registerIdentityRoutes(api, fhir);
    await registerPortal(api, fhir);
    await registerExchangeRoutes(api, fhir);
  });
  return app;
}
