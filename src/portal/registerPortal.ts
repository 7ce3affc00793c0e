/**
 * The web portal's HTTP edge: the built app under `/portal/` (serveWebApp), its OAuth client,
 * and the few JSON endpoints the FHIR API does not give, under `/portal/api/`:
 *
 * - `GET config`: where to sign in and what chain the node is on (no token needed).
 * - `GET me`: who the token is for (role, username, chain address, patient or fhirUser).
 * - `POST chain/rpc`: a read-only JSON-RPC call to the chain, for checking proofs in the browser.
 * - `GET practitioners`: the practitioner directory (grantees a patient can choose).
 * - `GET my-patients`: a clinician's active consents and break-glass windows, with the local
 *   Patient id of each (the browser then reads the Patient through the FHIR API).
 * - `POST patients/{id}/record-proofs`: inclusion proofs of many record versions at once.
 * - `POST patients/{id}/restrictions` ({ practitioner: "Practitioner/1" }), `DELETE
 *   patients/{id}/restrictions/{practitionerId}`: the patient restricts (or lifts the restriction
 *   of) a named clinician: no treatment access for them (HIPAA 164.522(a)); her own only.
 * - `GET acting-for`: the patients whose delegate (guardian, proxy) the caller is, now.
 * - `GET patients/{id}/who-has-access`: every current basis of access to the patient's records,
 *   in words (consents, the treatment policy and care team, restrictions, break-glass windows,
 *   delegates, registrars, systems, officers); the patient's own only.
 * - `GET officer/access-review/{auditEventId}`: the record versions one access served, for the
 *   privacy officer's review of it (the only way an officer sees clinical records; audited for
 *   the patients of that access).
 * - `GET officer/overview`, `POST officer/verify`: the privacy officer's dashboard and verify run;
 *   `POST officer/break-glass/{txHash}/review` ({ outcome: justified | not-justified, note? }).
 *
 * Errors are `{ "error": code, "message" }` with the right status. Every request body and answer
 * is declared in PortalApi.ts, the one place the web app reads them from.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { authEndpoints } from '../access/accessTokensFor.ts';
import { auditContextOf } from '../audit/AuditContext.ts';
import { httpStatusOf } from '../errors/httpStatus.ts';
import { MedledgerError } from '../errors/MedledgerError.ts';
import { patientIdByAddress } from '../fhir/consent/consentResources.ts';
import type { FhirService } from '../fhir/FhirService.ts';
import { setRestriction } from '../fhir/identity/restrictions.ts';
import { forwardRpcCall, readOnlyCall } from './chainRpcProxy.ts';
import { accessesOfGrantee, practitionerDirectory } from './directory.ts';
import { runVerify } from './latestVerify.ts';
import { officerOverview } from './officerOverview.ts';
import type {
  AccessReview,
  ActingFor,
  BreakGlassReview,
  LatestVerify,
  Me,
  MyPatients,
  OfficerOverview,
  PortalConfig,
  PortalErrorBody,
  Practitioners,
  RecordProofs,
  Restriction,
  WhoHasAccess,
} from './PortalApi.ts';
import { PortalError } from './PortalError.ts';
import { portalAccess } from './portalAccess.ts';
import {
  ensurePortalClient,
  PORTAL_CLIENT_ID,
  PORTAL_CLIENT_SCOPES,
  portalRedirectUri,
} from './portalClient.ts';
import { recordProofs } from './recordProofs.ts';
import { eventToReview, reviewAccess } from './reviewAccess.ts';
import { reviewBreakGlass } from './reviewBreakGlass.ts';
import { serveWebApp } from './serveWebApp.ts';
import { whoHasAccess } from './whoHasAccess.ts';

export async function registerPortal(app: FastifyInstance, service: FhirService): Promise<void> {
  const { ctx } = service;
  await ensurePortalClient(ctx.db, ctx.config.publicUrl);
  const endpoints = authEndpoints(ctx.config.publicUrl);
  await serveWebApp(app);

  await app.register(async (api) => {
    api.addHook('onSend', async (_request, reply) => {
      reply.header('cache-control', 'no-store');
    });

    api.get(
      '/portal/api/config',
      async (): Promise<PortalConfig> => ({
        clientId: PORTAL_CLIENT_ID,
        redirectUri: portalRedirectUri(ctx.config.publicUrl),
        scope: PORTAL_CLIENT_SCOPES,
        authorizeUrl: endpoints.authorizationEndpoint,
        tokenUrl: endpoints.tokenEndpoint,
        fhirBaseUrl: endpoints.fhirBaseUrl,
        institution: ctx.config.institutionName,
        custodian: ctx.identity.account.address.toLowerCase(),
        chainId: ctx.chain.addresses.chainId,
        contracts: { consent: ctx.chain.addresses.consent, anchors: ctx.chain.addresses.anchors },
      }),
    );

    api.get('/portal/api/me', (request, reply) =>
      run<Me>(reply, async () => {
        const principal = await service.access.tokens
          .authenticate(request.headers.authorization)
          .catch(() => {
            throw new PortalError(
              'ERR_PORTAL_UNAUTHENTICATED',
              'your sign-in has expired or was ended; sign in again',
            );
          });
        // Whether the patient's record is already bound to a key of theirs (claimed, or created with
        // their own address): the portal then offers the recovery phrase first, not the claim code.
        const [claim] = principal.patient
          ? await ctx.db.query<{ claimed: boolean }>(
              'SELECT claimed_at IS NOT NULL AS claimed FROM ehr_patient_claims WHERE patient_id = $1',
              [principal.patient],
            )
          : [];
        return {
          role: principal.kind,
          username: principal.subject,
          address: principal.address ?? null,
          patient: principal.patient ?? null,
          fhirUser: principal.fhirUser ?? null,
          expiresAt: principal.expiresAt,
          keyBound: principal.patient ? (claim?.claimed ?? true) : null,
        };
      }),
    );

    api.post('/portal/api/chain/rpc', (request, reply) =>
      run(reply, async () => {
        await service.access.tokens.authenticate(request.headers.authorization).catch(() => {
          throw new PortalError('ERR_PORTAL_UNAUTHENTICATED', 'sign in to read the chain');
        });
        return forwardRpcCall(ctx.chain.rpcUrl, readOnlyCall(request.body));
      }),
    );

    api.get('/portal/api/practitioners', (request, reply) =>
      run<Practitioners>(reply, async () => {
        await portalAccess(service, request, {
          roles: ['patient', 'practitioner', 'officer'],
          resource: 'portal/practitioners',
          interaction: 's',
        });
        return { practitioners: await practitionerDirectory(ctx.db) };
      }),
    );

    api.get('/portal/api/my-patients', (request, reply) =>
      run<MyPatients>(reply, async () => {
        const principal = await portalAccess(service, request, {
          roles: ['practitioner'],
          resource: 'portal/my-patients',
          interaction: 's',
          purpose: 'TREAT',
        });
        if (principal.address === undefined)
          throw new PortalError(
            'ERR_PORTAL_CONFLICT',
            'your account has no chain address, so no consent can name you',
          );
        const accesses = await accessesOfGrantee(ctx.db, principal.address, ctx.identity.account.address);
        return {
          address: principal.address,
          accesses: await Promise.all(
            accesses.map(async (a) => ({
              ...a,
              patientId: (await patientIdByAddress(service, a.patientAddress)) ?? null,
            })),
          ),
        };
      }),
    );

    api.post('/portal/api/patients/:id/record-proofs', (request, reply) =>
      run<RecordProofs>(reply, async () => {
        const { id } = request.params as { id: string };
        const body = (request.body ?? {}) as { versions?: unknown };
        return { proofs: await recordProofs(service, auditContextOf(ctx), request, id, body.versions) };
      }),
    );

    api.get('/portal/api/acting-for', (request, reply) =>
      run<ActingFor>(reply, async () => {
        const principal = await portalAccess(service, request, {
          roles: ['patient', 'practitioner', 'officer', 'registrar'],
          resource: 'portal/acting-for',
          interaction: 's',
        });
        if (principal.address === undefined) return { patients: [] };
        const rows = await ctx.db.query<{ patient: string; until: string }>(
          `SELECT patient, until::text FROM chain_delegates WHERE delegate = $1 AND until > $2
           ORDER BY until DESC`,
          [principal.address.toLowerCase(), Math.floor(Date.now() / 1000)],
        );
        return {
          patients: await Promise.all(
            rows.map(async (r) => ({
              patientAddress: r.patient,
              patientId: (await patientIdByAddress(service, r.patient)) ?? null,
              until: Number(r.until),
            })),
          ),
        };
      }),
    );

    api.get('/portal/api/patients/:id/who-has-access', (request, reply) =>
      run<WhoHasAccess>(reply, async () => {
        const { id } = request.params as { id: string };
        await portalAccess(service, request, {
          roles: ['patient'],
          resource: `Patient/${id}/who-has-access`,
          purpose: 'PATRQT',
          patientId: id,
        });
        return whoHasAccess(service, id);
      }),
    );

    // The patient's restrictions on named clinicians (HIPAA 164.522(a)): add and lift.
    const restriction = (method: 'POST' | 'DELETE') => (request: FastifyRequest, reply: FastifyReply) =>
      run<Restriction>(reply, async () => {
        const { id, practitioner: fromPath } = request.params as { id: string; practitioner?: string };
        const practitioner =
          method === 'POST'
            ? (request.body as { practitioner?: unknown } | undefined)?.practitioner
            : `Practitioner/${fromPath}`;
        if (typeof practitioner !== 'string' || !/^Practitioner\/[A-Za-z0-9\-.]{1,64}$/.test(practitioner))
          throw new PortalError('ERR_PORTAL_INVALID', 'practitioner must be a Practitioner/{id} reference');
        await portalAccess(service, request, {
          roles: ['patient'],
          resource: `Patient/${id}/restrictions/${practitioner}`,
          interaction: 'c',
          purpose: 'PATRQT',
          patientId: id,
        });
        await setRestriction(ctx.db, id, practitioner, method === 'POST');
        return { patient: `Patient/${id}`, practitioner, restricted: method === 'POST' };
      });
    api.post('/portal/api/patients/:id/restrictions', restriction('POST'));
    api.delete('/portal/api/patients/:id/restrictions/:practitioner', restriction('DELETE'));

    api.get('/portal/api/officer/access-review/:id', (request, reply) =>
      run<AccessReview>(reply, async () => {
        const { id } = request.params as { id: string };
        const resource = `AuditEvent/${id}/access-review`;
        // Who asks is decided before anything about the event is looked up (refusals audited once).
        const caller = await service.access.tokens
          .authenticate(request.headers.authorization)
          .catch(() => undefined);
        if (caller?.kind !== 'officer')
          await portalAccess(service, request, { roles: ['officer'], resource });
        const reviewed = await eventToReview(auditContextOf(ctx), id);
        await portalAccess(service, request, {
          roles: ['officer'],
          resource,
          purpose: 'HOPERAT',
          basis: 'audit-review',
          patientId: reviewed.patients[0] as string,
          patients: reviewed.patients,
        });
        return reviewAccess(service, reviewed);
      }),
    );

    api.get('/portal/api/officer/overview', (request, reply) =>
      run<OfficerOverview>(reply, async () => {
        await portalAccess(service, request, { roles: ['officer'], resource: 'portal/officer-overview' });
        return officerOverview(service);
      }),
    );

    api.post('/portal/api/officer/break-glass/:txHash/review', (request, reply) =>
      run<BreakGlassReview>(reply, async () => {
        const { txHash } = request.params as { txHash: string };
        const officer = await portalAccess(service, request, {
          roles: ['officer'],
          resource: `portal/break-glass-review/${txHash.slice(0, 66)}`,
          interaction: 'c',
        });
        return reviewBreakGlass(service, officer, txHash, request.body, request.ip);
      }),
    );

    api.post('/portal/api/officer/verify', (request, reply) =>
      run<LatestVerify>(reply, async () => {
        const principal = await portalAccess(service, request, {
          roles: ['officer'],
          resource: 'portal/verify',
          interaction: 'c',
        });
        return runVerify(ctx, principal.subject);
      }),
    );
  });
}

/** Sends the handler's answer (of the route's PortalApi type), or the error as a PortalErrorBody. */
async function run<T>(reply: FastifyReply, handler: () => Promise<T>): Promise<FastifyReply> {
  try {
    return reply.send(await handler());
  } catch (error) {
    const status = httpStatusOf(error);
    if (error instanceof MedledgerError && (status < 500 || status === 503))
      return reply.code(status).send({ error: error.code, message: error.message } satisfies PortalErrorBody);
    reply.log.warn(error);
    return reply
      .code(500)
      .send({ error: 'ERR_PORTAL_INTERNAL', message: 'internal error' } satisfies PortalErrorBody);
  }
}
