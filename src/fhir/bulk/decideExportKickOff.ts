/**
 * The access decision of a bulk export kick-off, and its audit event. The token must be valid
 * and its scopes must allow reading every type named in `_type` (or at least one type when no
 * `_type` is given); a Group must exist and be readable by the caller. What each resource then
 * needs (own compartment, treatment relationship, consent on chain) is decided per resource as
 * the job reads it, exactly as for a REST read.
 */
import { getResourceTypes } from '@medplum/core';
import { AccessError } from '../../access/AccessError.ts';
import { auditDecision } from '../../access/auditDecision.ts';
import type { AccessDecision } from '../../access/authorizeAccess.ts';
import { accessHeaders } from '../../access/checkAccess.ts';
import type { Principal } from '../../access/Principal.ts';
import { scopeAllows } from '../../access/scopes.ts';
import type { FhirService } from '../FhirService.ts';
import { VaultRepository } from '../VaultRepository.ts';
import type { ExportParameters } from './exportParameters.ts';

export interface KickOffDecision {
  decision: AccessDecision;
  principal: Principal | undefined;
  purpose: string;
  breakGlassReason?: string;
}

export interface KickOffFacts {
  authorization: string | undefined;
  headers: Record<string, string | string[] | undefined>;
  network: string;
  queryString: string;
  /** The URN the audit event names the job by. */
  jobUrn: string;
}

export async function decideExportKickOff(
  service: FhirService,
  parameters: ExportParameters,
  facts: KickOffFacts,
): Promise<KickOffDecision> {
  const headers = accessHeaders(facts.headers);
  let principal: Principal | undefined;
  let decision: AccessDecision;
  const purposeOf = () => headers.purpose ?? principal?.purposeOfUse ?? 'TREAT';
  const deny = (status: AccessDecision['status'], reason: string): AccessDecision => ({
    allowed: false,
    status,
    reason,
    basis: 'none',
    purpose: purposeOf(),
  });
  try {
    principal = await service.access.tokens.authenticate(facts.authorization);
    decision = await decide(service, principal, parameters, deny, purposeOf());
  } catch (error) {
    decision =
      error instanceof AccessError
        ? deny(401, error.message)
        : deny(503, `access could not be decided: ${error instanceof Error ? error.message : String(error)}`);
  }
  await service.ctx.audit.append(
    auditDecision({
      principal,
      request: { resourceType: parameters.types?.join(',') ?? '*', interaction: 'r' },
      decision,
      observer: service.ctx.identity.account.address,
      subtype: 'operation',
      resources: [facts.jobUrn, ...(parameters.groupId === undefined ? [] : [`Group/${parameters.groupId}`])],
      ...(facts.queryString ? { query: facts.queryString } : {}),
      network: facts.network,
    }),
  );
  return {
    decision,
    principal,
    purpose: decision.purpose,
    ...(headers.breakGlassReason ? { breakGlassReason: headers.breakGlassReason } : {}),
  };
}

async function decide(
  service: FhirService,
  principal: Principal,
  parameters: ExportParameters,
  deny: (status: AccessDecision['status'], reason: string) => AccessDecision,
  purpose: string,
): Promise<AccessDecision> {
  if (principal.expiresAt * 1000 <= Date.now()) return deny(401, 'the access token has expired');
  const reads = (type: string) =>
    scopeAllows(principal.scopes, { context: principal.context, resourceType: type, interaction: 'r' });
  const refused = (parameters.types ?? []).filter((t) => !reads(t));
  if (refused.length > 0) return deny(403, `scope does not allow reading ${refused.join(', ')}`);
  if (!parameters.types && !getResourceTypes().some(reads))
    return deny(403, 'scope does not allow reading any resource type');
  if (parameters.level === 'group') {
    const repo = new VaultRepository(service, service.guardFor(principal, { purpose }));
    const group = await repo.readAllowed('Group', parameters.groupId ?? '');
    if (!group) return deny(404, 'not found');
  }
  return {
    allowed: true,
    status: 200,
    reason: 'bulk export accepted; each resource is decided (scopes, compartment, consent) as it is read',
    basis: 'none',
    purpose,
  };
}
