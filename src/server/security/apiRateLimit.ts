/**
 * Rate limiting of the FHIR API per client (@fastify/rate-limit): the key is the client id of
 * a verified access token, else the caller's IP, so one client cannot starve the others and a
 * caller without a valid token cannot escape its IP's budget by inventing tokens. Over the
 * limit: 429 with `Retry-After` and an OperationOutcome (code `throttled`).
 * @see https://github.com/fastify/fastify-rate-limit
 */
import rateLimit from '@fastify/rate-limit';
import { OperationOutcomeError } from '@medplum/core';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { accessTokensFor, type TokenKeyContext } from '../../access/accessTokensFor.ts';
import { outcome } from '../../fhir/toOperationOutcome.ts';

/** Verified tokens remembered so the limiter verifies each token once, not per request. */
const MAX_REMEMBERED_TOKENS = 10_000;

export interface ApiRateLimitOptions {
  /** Requests per minute per client; 0 turns the limit off. */
  perMinute: number;
}

/** Registers the limiter on `scope` (and the routes registered in it afterwards). */
export async function registerApiRateLimit(
  scope: FastifyInstance,
  ctx: TokenKeyContext,
  options: ApiRateLimitOptions,
): Promise<void> {
  if (options.perMinute <= 0) return;
  const clientOf = clientKeys(ctx);
  await scope.register(rateLimit, {
    global: true,
    max: options.perMinute,
    timeWindow: 60_000,
    keyGenerator: async (request) => (await clientOf(request)) ?? `ip:${request.ip}`,
    errorResponseBuilder: (_request, context) =>
      Object.assign(
        new OperationOutcomeError(
          outcome(
            'medledger-too-many-requests',
            'throttled',
            `Rate limit of ${context.max} requests per minute exceeded; retry in ${context.after}`,
          ),
        ),
        { statusCode: context.statusCode },
      ),
  });
}

function clientKeys(ctx: TokenKeyContext) {
  const known = new Map<string, { client: string; expiresAt: number }>();
  return async (request: FastifyRequest): Promise<string | undefined> => {
    const authorization = request.headers.authorization;
    if (!authorization) return undefined;
    const now = Date.now() / 1000;
    const hit = known.get(authorization);
    if (hit && hit.expiresAt > now) return hit.client;
    const tokens = await accessTokensFor(ctx);
    const principal = await tokens.authenticate(authorization).catch(() => undefined);
    if (!principal || principal.expiresAt <= now) return undefined;
    if (known.size >= MAX_REMEMBERED_TOKENS) known.clear();
    const client = `client:${principal.clientId}`;
    known.set(authorization, { client, expiresAt: principal.expiresAt });
    return client;
  };
}
