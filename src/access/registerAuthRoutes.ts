/**
 * The authorization server's HTTP edge: SMART and OpenID discovery, the key set, the token,
 * revocation and introspection endpoints, EHR launch contexts and the login form. Thin over
 * exchangeToken / revokeToken / introspectToken / checkAuthorizeRequest / completeAuthorization;
 * registered in its own encapsulated scope (form-body parser and rate limit stay local).
 */
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Db } from '../store/db.ts';
import { AccessError } from './AccessError.ts';
import { accessTokensFor, authEndpoints, type TokenKeyContext } from './accessTokensFor.ts';
import { checkAuthorizeRequest, completeAuthorization, completePatientPick } from './authorizeRequest.ts';
import { exchangeToken } from './exchangeToken.ts';
import { introspectToken } from './introspectToken.ts';
import { createLaunchContext, LAUNCH_LIFETIME_SECONDS } from './launchContexts.ts';
import { loginPage } from './loginPage.ts';
import { LoginThrottle } from './loginThrottle.ts';
import { openidConfiguration } from './openidConfiguration.ts';
import type { PatientPicker } from './PatientPicker.ts';
import { patientPickerPage } from './patientPickerPage.ts';
import { revokeToken } from './revokeToken.ts';
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
  /**
   * The patient picker's list (the FHIR layer's, registered after these routes: hence a
   * function). Without one, a practitioner's standalone `launch/patient` is refused.
   */
  patientPicker?: () => PatientPicker | undefined;
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
    const openid = openidConfiguration(ctx.config.publicUrl);
    scope.get('/.well-known/openid-configuration', async (_request, reply) =>
      reply.header('cache-control', 'public, max-age=3600').send(openid),
    );
    scope.get('/auth/jwks', async (_request, reply) =>
      reply
        .header('cache-control', 'public, max-age=300')
        .type('application/jwk-set+json')
        .send((await accessTokensFor(ctx)).jwks()),
    );

    const endpointContext = async () => ({
      db: ctx.db,
      tokens: await accessTokensFor(ctx),
      tokenEndpoint: endpoints.tokenEndpoint,
    });
    scope.post('/auth/revoke', { config: limited }, async (request, reply) => {
      reply.header('cache-control', 'no-store');
      try {
        await revokeToken(await endpointContext(), (request.body ?? {}) as Form);
        return reply.code(200).send();
      } catch (error) {
        return oauthError(reply, error);
      }
    });
    scope.post('/auth/introspect', { config: limited }, async (request, reply) => {
      reply.header('cache-control', 'no-store');
      try {
        return reply.send(await introspectToken(await endpointContext(), (request.body ?? {}) as Form));
      } catch (error) {
        return oauthError(reply, error);
      }
    });

    // EHR launch: the EHR, for its signed-in practitioner, names the patient the app opens on.
    scope.post('/auth/launch', { config: limited }, async (request, reply) => {
      reply.header('cache-control', 'no-store');
      let username: string;
      try {
        const principal = await (await accessTokensFor(ctx)).authenticate(request.headers.authorization);
        if (principal.kind !== 'practitioner' && principal.kind !== 'officer') {
          return reply.code(403).send({
            error: 'insufficient_scope',
            error_description: 'an EHR launch is made by a practitioner',
          });
        }
        username = principal.subject;
      } catch (error) {
        if (!(error instanceof AccessError)) throw error;
        return reply
          .code(401)
          .header('www-authenticate', 'Bearer error="invalid_token"')
          .send({ error: 'invalid_token', error_description: error.message });
      }
      const body = (request.body ?? {}) as Form;
      if (typeof body.patient !== 'string')
        return reply.code(400).send({ error: 'invalid_request', error_description: 'patient is required' });
      try {
        const launch = await createLaunchContext(ctx.db, {
          username,
          patient: body.patient,
          encounter: typeof body.encounter === 'string' ? body.encounter : undefined,
        });
        return reply.code(201).send({ launch, expires_in: LAUNCH_LIFETIME_SECONDS });
      } catch (error) {
        return oauthError(reply, error);
      }
    });

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
      let checked: Awaited<ReturnType<typeof checkAuthorizeRequest>>;
      try {
        checked = await checkAuthorizeRequest(ctx.db, { ...query, ...form }, endpoints.fhirBaseUrl);
      } catch (error) {
        if (!(error instanceof AccessError)) throw error;
        return reply
          .code(400)
          .type('text/plain; charset=utf-8')
          .send(`authorization request rejected: ${error.message}`);
      }
      if (!checked.ok) return reply.redirect(checked.redirectTo, 302);
      const { parameters } = checked;
      if (form?.pick !== undefined) {
        const picked = await completePatientPick(ctx.db, parameters, form.pick);
        return picked.ok === true ? reply.redirect(picked.redirectTo, 302) : reply.code(400).send();
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
        result = await completeAuthorization(
          ctx.db,
          parameters,
          form.username,
          form.password,
          options.patientPicker?.(),
        );
      } catch (error) {
        turn.release(undefined); // an error is not a wrong password: not counted
        throw error;
      }
      turn.release(result.ok !== false);
      if (result.ok === 'pick') {
        return reply.type('text/html; charset=utf-8').send(patientPickerPage(parameters, result.patients));
      }
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
