/**
 * The one call a FHIR route makes before touching data: authenticate the bearer token,
 * decide, and append exactly one audit event, allowed or denied. If the audit event cannot
 * be written the request fails (nothing is accessed without an audit event).
 */
import type { AuditSink, RestInteraction } from '../audit/AuditSink.ts';
import { AccessError } from './AccessError.ts';
import type { AccessTokens } from './AccessTokens.ts';
import { auditDecision } from './auditDecision.ts';
import {
  type AccessContext,
  type AccessDecision,
  type AccessRequest,
  authorizeAccess,
} from './authorizeAccess.ts';
import type { Principal } from './Principal.ts';

export interface CheckAccessContext extends AccessContext {
  tokens: AccessTokens;
  audit: AuditSink;
}

export interface CheckAccessInput {
  /** The `Authorization` header as received. */
  authorization: string | undefined;
  request: AccessRequest;
  subtype?: RestInteraction;
  resources?: string[];
  query?: string;
  /** Client IP. */
  network?: string;
}

export interface CheckAccessResult {
  decision: AccessDecision;
  principal: Principal | undefined;
}

export async function checkAccess(
  ctx: CheckAccessContext,
  input: CheckAccessInput,
): Promise<CheckAccessResult> {
  const result = await decideAccessOf(ctx, input);
  await auditAccess(ctx, input, result);
  return result;
}

/**
 * The decision alone, without its audit event: for a caller that serves first and then appends
 * the one event naming what it served (it must append it before it answers: {@link auditAccess}).
 */
export async function decideAccessOf(
  ctx: CheckAccessContext,
  input: Pick<CheckAccessInput, 'authorization' | 'request'>,
): Promise<CheckAccessResult> {
  let principal: Principal | undefined;
  let decision: AccessDecision;
  try {
    principal = await ctx.tokens.authenticate(input.authorization);
    decision = await authorizeAccess(ctx, principal, input.request);
  } catch (error) {
    decision = undecided(input.request, principal, error);
  }
  return { decision, principal };
}

/** A decision that could not be made: 401 for a token problem, 503 otherwise. */
export function undecided(
  request: AccessRequest,
  principal: Principal | undefined,
  error: unknown,
): AccessDecision {
  const tokenProblem = error instanceof AccessError;
  return {
    allowed: false,
    status: tokenProblem ? 401 : 503,
    reason: tokenProblem
      ? error.message
      : `access could not be decided: ${error instanceof Error ? error.message : String(error)}`,
    basis: 'none',
    purpose: request.purpose ?? principal?.purposeOfUse ?? 'TREAT',
  };
}

/** Appends the one audit event of a decision; if it cannot be written, the request fails. */
export async function auditAccess(
  ctx: CheckAccessContext,
  input: CheckAccessInput & { patients?: readonly string[] },
  result: CheckAccessResult,
): Promise<void> {
  await ctx.audit.append(
    auditDecision({
      principal: result.principal,
      request: input.request,
      decision: result.decision,
      observer: ctx.identity.account.address,
      ...(input.subtype === undefined ? {} : { subtype: input.subtype }),
      ...(input.resources === undefined ? {} : { resources: input.resources }),
      ...(input.query === undefined ? {} : { query: input.query }),
      ...(input.network === undefined ? {} : { network: input.network }),
      ...(input.patients === undefined ? {} : { patients: input.patients }),
    }),
  );
}

/** Reads the access headers of a request (`X-Purpose-Of-Use`, `X-Break-Glass-Reason`). */
export function accessHeaders(headers: Readonly<Record<string, string | string[] | undefined>>): {
  purpose?: string;
  breakGlassReason?: string;
} {
  const one = (name: string) => {
    const value = headers[name];
    return Array.isArray(value) ? value[0] : value;
  };
  const purpose = one('x-purpose-of-use')?.trim();
  const reason = one('x-break-glass-reason')?.trim();
  return {
    ...(purpose ? { purpose } : {}),
    ...(reason ? { breakGlassReason: reason } : {}),
  };
}
