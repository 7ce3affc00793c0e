/**
 * The custodian's HTTP edge of the exchange: `POST /exchange/v1/records`, a member-signed request
 * for one patient's records (docs/exchange.md). Order of checks: signature and clock window,
 * nonce (a replay is refused), then membership and consent (discloseRecords). The answer is the
 * disclosure sealed with HPKE to the requester's registered key; a refusal is an
 * OperationOutcome whose coding carries the stable error code. Every request leaves one audit event.
 * Registering the routes also publishes this node's endpoint and key in the Registry.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { type Address, isAddress } from 'viem';
import { auditDecision } from '../access/auditDecision.ts';
import { purposeIndex } from '../chain/consentCodes.ts';
import { httpStatusOf } from '../errors/httpStatus.ts';
import type { MedledgerError } from '../errors/MedledgerError.ts';
import type { FhirService } from '../fhir/FhirService.ts';
import { outcome } from '../fhir/toOperationOutcome.ts';
import type { Db } from '../store/db.ts';
import { discloseRecords, memberPrincipal } from './discloseRecords.ts';
import { RECORDS_PATH, type RecordsRequest } from './disclosure.ts';
import { ExchangeError, refusalIssueType } from './ExchangeError.ts';
import { findMember, publishMemberEndpoint } from './memberDirectory.ts';
import { sealResponse } from './sealedResponse.ts';
import { CLOCK_WINDOW_SECONDS, verifyExchangeRequest } from './signedRequest.ts';

const BODY_LIMIT = 16 * 1024;

export async function registerExchangeRoutes(app: FastifyInstance, service: FhirService): Promise<void> {
  const { ctx } = service;
  await app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: BODY_LIMIT }, (_request, body, done) =>
      done(null, body),
    );
    scope.post(RECORDS_PATH, async (request, reply) => {
      const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
      let member: string | undefined;
      try {
        const verified = await verifyExchangeRequest({
          domain: { chainId: ctx.chain.addresses.chainId, registry: ctx.chain.addresses.registry },
          custodian: ctx.identity.account.address,
          method: request.method,
          path: RECORDS_PATH,
          body,
          headers: request.headers,
        });
        member = verified.member;
        await spendNonce(ctx.db, verified.member, verified.nonce);
        const parameters = parseRecordsRequest(body);
        const disclosure = await discloseRecords(service, {
          member: verified.member,
          patient: parameters.patient,
          purpose: parameters.purpose ?? 'TREAT',
          network: request.ip,
        });
        const recipient = await findMember(ctx, verified.member);
        if (!recipient) throw new ExchangeError('ERR_EXCHANGE_NOT_MEMBER', 'the requester is not a member');
        const sealed = await sealResponse(Buffer.from(JSON.stringify(disclosure)), {
          senderPrivateKey: ctx.identity.encryptionPrivateKey,
          recipientPublicKey: recipient.encryptionKey,
          binding: {
            custodian: ctx.identity.account.address,
            requester: verified.member,
            nonce: verified.nonce,
          },
        });
        return reply.code(200).header('content-type', 'application/json').send(sealed);
      } catch (error) {
        if (!(error instanceof ExchangeError)) {
          ctx.logger.warn(`exchange: ${error instanceof Error ? error.message : String(error)}`);
          return refusal(
            reply,
            new ExchangeError('ERR_EXCHANGE_UNAVAILABLE', 'the request could not be served'),
          );
        }
        // discloseRecords audits its own refusals; the earlier checks are audited here.
        if (!error.audited) await auditRefusal(service, member, error, request.ip);
        return refusal(reply, error);
      }
    });
  });
  // Not awaited: a slow chain must not hold up the server's start (fastify's plugin timeout).
  void publishMemberEndpoint(ctx).catch((error: unknown) =>
    ctx.logger.warn(
      `exchange: could not publish this node's endpoint: ${error instanceof Error ? error.message : String(error)}`,
    ),
  );
}

/** Stores the nonce for the clock window; a second use of it by the same member is a replay. */
async function spendNonce(db: Db, member: string, nonce: string): Promise<void> {
  await db.query('DELETE FROM exchange_nonces WHERE expires_at < now()');
  const rows = await db.query(
    `INSERT INTO exchange_nonces (member, nonce, expires_at)
     VALUES ($1, $2, now() + make_interval(secs => $3)) ON CONFLICT DO NOTHING RETURNING nonce`,
    [member, nonce, 2 * CLOCK_WINDOW_SECONDS],
  );
  if (rows.length === 0)
    throw new ExchangeError('ERR_EXCHANGE_REPLAY', 'this request was already received (replay)');
}

function parseRecordsRequest(body: Buffer): RecordsRequest {
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch {
    throw new ExchangeError('ERR_EXCHANGE_INVALID', 'the body must be JSON');
  }
  const { patient, purpose } = (value ?? {}) as Record<string, unknown>;
  if (typeof patient !== 'string' || !isAddress(patient, { strict: false }))
    throw new ExchangeError('ERR_EXCHANGE_INVALID', 'patient must be the patient’s chain address');
  if (purpose !== undefined && (typeof purpose !== 'string' || purposeIndex(purpose) === undefined))
    throw new ExchangeError('ERR_EXCHANGE_INVALID', 'purpose must be an HL7 v3 PurposeOfUse code');
  return { patient: (patient as Address).toLowerCase(), ...(purpose === undefined ? {} : { purpose }) };
}

async function auditRefusal(
  service: FhirService,
  member: string | undefined,
  error: MedledgerError,
  network: string,
) {
  const known = member ? await findMember(service.ctx, member).catch(() => undefined) : undefined;
  await service.ctx.audit.append(
    auditDecision({
      principal: member ? memberPrincipal(member, known?.name ?? '') : undefined,
      request: { resourceType: 'Patient', interaction: 'r' },
      decision: {
        allowed: false,
        status: refusalStatus(error),
        reason: error.message,
        basis: 'none',
        purpose: 'TREAT',
      },
      observer: service.ctx.identity.account.address,
      subtype: 'operation',
      resources: [],
      query: 'exchange=records',
      network,
    }),
  );
}

/** The status an exchange refusal is audited with (an access decision says 401, 403 or 503). */
function refusalStatus(error: MedledgerError): 401 | 403 | 503 {
  const status = httpStatusOf(error);
  return status === 401 ? 401 : status === 503 ? 503 : 403;
}

function refusal(reply: FastifyReply, error: ExchangeError) {
  const status = httpStatusOf(error);
  const body = outcome(undefined, refusalIssueType(error), error.message);
  const issue = body.issue[0];
  if (issue)
    issue.details = { ...issue.details, coding: [{ system: 'urn:medledger:error', code: error.code }] };
  return reply.code(status).header('content-type', 'application/fhir+json').send(body);
}
