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
  let principal: Principal | undefined;
  let decision: AccessDecision;
  try {
    principal = await ctx.tokens.authenticate(input.authorization);
    decision = await authorizeAccess(ctx, principal, input.request);
  } catch (error) {
    const tokenProblem = error instanceof AccessError;
    decision = {
      allowed: false,
      status: tokenProblem ? 401 : 503,
      reason: tokenProblem
        ? error.message
        : `access could not be decided: ${error instanceof Error ? error.message : String(error)}`,
      basis: 'none',
      purpose: input.request.purpose ?? principal?.purposeOfUse ?? 'TREAT',
    };
  }
  await ctx.audit.append(
    auditDecision({
      principal,
      request: input.request,
      decision,
      observer: ctx.identity.account.address,
      ...(input.subtype === undefined ? {} : { subtype: input.subtype }),
      ...(input.resources === undefined ? {} : { resources: input.resources }),
      ...(input.query === undefined ? {} : { query: input.query }),
      ...(input.network === undefined ? {} : { network: input.network }),
    }),
  );
  return { decision, principal };
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
