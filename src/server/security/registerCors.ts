/**
 * CORS for browser apps on other origins (SMART on FHIR apps, fhirclient): discovery
 * (`.well-known/smart-configuration`), the token endpoint and the FHIR API answer cross-origin
 * requests and their preflights. Every request is authorized by a bearer token, never by a
 * cookie, so the origin is not a credential: any origin may call (`Access-Control-Allow-Origin:
 * *`, no credentials) unless `MEDLEDGER_CORS_ORIGINS` lists the allowed ones. The login form
 * (`/auth/authorize`) and the portal are navigations, not CORS requests.
 * @see https://hl7.org/fhir/smart-app-launch/app-launch.html (apps in browsers)
 */
import cors from '@fastify/cors';
import type { FastifyInstance } from 'fastify';

const ALLOWED_HEADERS = [
  'authorization',
  'content-type',
  'accept',
  'prefer',
  'if-match',
  'if-none-match',
  'if-none-exist',
  'if-modified-since',
  'x-purpose-of-use',
  'x-break-glass-reason',
];
const EXPOSED_HEADERS = [
  'location',
  'content-location',
  'etag',
  'last-modified',
  'x-progress',
  'retry-after',
  'expires',
];

export async function registerCors(
  app: FastifyInstance,
  origins: readonly string[] | undefined,
): Promise<void> {
  await app.register(cors, {
    origin: origins === undefined ? '*' : [...origins],
    methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'],
    allowedHeaders: ALLOWED_HEADERS,
    exposedHeaders: EXPOSED_HEADERS,
    credentials: false,
    maxAge: 600,
    strictPreflight: false,
  });
}
