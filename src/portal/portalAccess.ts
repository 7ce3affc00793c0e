/**
 * Access to the portal's own JSON endpoints (`/portal/api/...`): the caller's token is
 * authenticated, its role checked, and the decision, allowed or denied, appended as one audit
 * event in the same shape as every FHIR access (auditDecision). These endpoints read no
 * patient's clinical data; those reads go through the FHIR API and its consent decisions.
 */
import type { FastifyRequest } from 'fastify';
import { auditDecision } from '../access/auditDecision.ts';
import type { AccessDecision } from '../access/authorizeAccess.ts';
import type { Principal } from '../access/Principal.ts';
import type { FhirService } from '../fhir/FhirService.ts';
import { refusedBy } from './PortalError.ts';

export type PortalRole = Principal['kind'];

export interface PortalAccessTarget {
  /** Roles that may call the endpoint. */
  roles: readonly PortalRole[];
  /** What is read, for the audit event (`portal/chain-status`). */
  resource: string;
  interaction?: 'r' | 's' | 'c';
  purpose?: string;
  /**
   * The patient the endpoint is about: the audit event names them (so they find it in their
   * access report), and a patient caller must be that patient (404 otherwise).
   */
  patientId?: string;
  /** The basis an allowed decision records (an officer's review: `audit-review`). */
  basis?: AccessDecision['basis'];
  /** More patients the audit event names (an access review naming every patient of the access). */
  patients?: readonly string[];
}

/** The caller, once allowed; a PortalError (401/403) otherwise. One audit event either way. */
export async function portalAccess(
  service: FhirService,
  request: FastifyRequest,
  target: PortalAccessTarget,
): Promise<Principal> {
  const principal = await service.access.tokens
    .authenticate(request.headers.authorization)
    .catch(() => undefined);
  const purpose = target.purpose ?? 'HOPERAT';
  const decide = (
    allowed: boolean,
    status: AccessDecision['status'],
    reason: string,
    basis: AccessDecision['basis'] = 'none',
  ): AccessDecision => ({ allowed, status, reason, basis, purpose });
  const ownPatient = target.patientId !== undefined && principal?.kind === 'patient';
  const decision =
    principal === undefined
      ? decide(false, 401, 'no valid access token')
      : !target.roles.includes(principal.kind)
        ? decide(false, 403, `portal ${target.resource} is for ${target.roles.join(', ')} only`)
        : ownPatient && principal.patient !== target.patientId
          ? decide(false, 404, 'not found')
          : ownPatient
            ? decide(true, 200, `portal ${target.resource}: the patient's own`, 'own-record')
            : decide(true, 200, `portal ${target.resource} for role ${principal.kind}`, target.basis);
  await service.ctx.audit.append(
    auditDecision({
      principal,
      request: {
        resourceType: 'Basic',
        interaction: target.interaction ?? 'r',
        ...(target.patientId === undefined ? {} : { patientId: target.patientId }),
      },
      decision,
      observer: service.ctx.identity.account.address,
      subtype: 'operation',
      resources: [target.resource],
      network: request.ip,
      ...(target.patients === undefined ? {} : { patients: target.patients }),
    }),
  );
  if (!decision.allowed || principal === undefined) throw refusedBy(decision.status, decision.reason);
  return principal;
}
