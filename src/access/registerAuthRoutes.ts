/**
 * The authorization server's HTTP edge: SMART discovery, the token endpoint and the login
 * form. Thin over exchangeToken / checkAuthorizeRequest / completeAuthorization; registered
 * in its own encapsulated scope (form-body parser and rate limit stay local).
 */
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Db } from '../store/db.ts';
import { AccessError } from './AccessError.ts';
import { accessTokensFor, authEndpoints, type TokenKeyContext } from './accessTokensFor.ts';
import { checkAuthorizeRequest, completeAuthorization } from './authorizeRequest.ts';
import { exchangeToken } from './exchangeToken.ts';
import { loginPage } from './loginPage.ts';
import { LoginThrottle } from './loginThrottle.ts';
import { smartConfiguration } from './smartConfiguration.ts';

export interface AuthRoutesContext extends TokenKeyContext {
  db: Db;
  identity: { account: { address: string } };
}

export interface AuthRoutesOptions {
  /** Requests per minute per client IP on /auth/token and /auth/authorize. */
  rateLimitPerMinute?: number;
  /** Tests pass their own (with a clock); a node has one. */
  loginThrottle?: LoginThrottle;
}

type Form = Record<string, string | undefined>;

export async function registerAuthRoutes(
  app: FastifyInstance,
  ctx: AuthRoutesContext,
  options: AuthRoutesOptions = {},
): Promise<void> {
  const endpoints = authEndpoints(ctx.config.publicUrl);
  const discovery = smartConfiguration(ctx.config.publicUrl);
  // Per account, per address and node-wide bounds on password guessing (loginThrottle.ts).
  const throttle = options.loginThrottle ?? new LoginThrottle();
  await app.register(async (scope) => {
    await scope.register(rateLimit, { global: false });
    const limited = { rateLimit: { max: options.rateLimitPerMinute ?? 120, timeWindow: '1 minute' } };
    scope.addContentTypeParser(
      'application/x-www-form-urlencoded',
      { parseAs: 'string' },
      (_request, body, done) => {
        done(null, Object.fromEntries(new URLSearchParams(String(body))));
      },
    );

    for (const path of ['/fhir/.well-known/smart-configuration', '/.well-known/smart-configuration']) {
      scope.get(path, async (_request, reply) =>
        reply.header('cache-control', 'public, max-age=3600').send(discovery),
      );
    }

    scope.post('/auth/token', { config: limited }, async (request, reply) => {
      reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
      try {
        const tokens = await accessTokensFor(ctx);
        const response = await exchangeToken(
          {
            db: ctx.db,
            tokens,
            tokenEndpoint: endpoints.tokenEndpoint,
            custodian: ctx.identity.account.address,
          },
          (request.body ?? {}) as Form,
        );
        return reply.send(response);
      } catch (error) {
        return oauthError(reply, error);
      }
    });

    const authorize = async (query: Form, form: Form | undefined, reply: FastifyReply, network: string) => {
      reply.header('cache-control', 'no-store').header('x-frame-options', 'DENY');
      let parameters: Awaited<ReturnType<typeof checkAuthorizeRequest>>;
      try {
        parameters = await checkAuthorizeRequest(ctx.db, { ...query, ...form }, endpoints.fhirBaseUrl);
      } catch (error) {
        if (!(error instanceof AccessError)) throw error;
        return reply
          .code(400)
          .type('text/plain; charset=utf-8')
          .send(`authorization request rejected: ${error.message}`);
      }
      if (!form?.username || form.password === undefined) {
        return reply.type('text/html; charset=utf-8').send(loginPage(parameters));
      }
      const turn = await throttle.admit(form.username, network);
      if (!turn.ok) {
        return reply
          .code(429)
          .header('retry-after', String(Math.ceil(turn.retryAfterMs / 1000)))
          .type('text/html; charset=utf-8')
          .send(loginPage(parameters, 'Too many attempts. Wait a moment and try again.'));
      }
      let result: Awaited<ReturnType<typeof completeAuthorization>>;
      try {
        result = await completeAuthorization(ctx.db, parameters, form.username, form.password);
      } catch (error) {
        turn.release(undefined); // an error is not a wrong password: not counted
        throw error;
      }
      turn.release(result.ok);
      if (!result.ok) {
        return reply
          .code(401)
          .type('text/html; charset=utf-8')
          .send(loginPage(parameters, 'Wrong username or password.'));
      }
      return reply.redirect(result.redirectTo, 302);
    };
    scope.get('/auth/authorize', { config: limited }, (request, reply) =>
      authorize(request.query as Form, undefined, reply, request.ip),
    );
    scope.post('/auth/authorize', { config: limited }, (request, reply) =>
      authorize(request.query as Form, (request.body ?? {}) as Form, reply, request.ip),
    );
  });
}

function oauthError(reply: FastifyReply, error: unknown) {
  if (!(error instanceof AccessError)) throw error;
  if (error.oauthError === 'invalid_client')
    reply.header('www-authenticate', 'Bearer error="invalid_client"');
  return reply
    .code(error.oauthError === 'invalid_client' ? 401 : 400)
    .send({ error: error.oauthError, error_description: error.message });
}
