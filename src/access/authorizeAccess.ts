/**
 * The access decision for one FHIR request: deny by default; scopes first; a patient only
 * sees their own compartment (another patient's data is 404, never revealing it exists);
 * this institution's own staff and systems act under its treatment relationship; everyone
 * else needs consent on chain (ConsentCache), decided only while the cache is current
 * (DESIGN.md: at most one block behind). A practitioner may break the glass for ETREAT.
 */

import type { Resource } from '@medplum/fhirtypes';
import { purposeIndex } from '../chain/consentCodes.ts';
import type { ChainIndexer } from '../chain/indexer/ChainIndexer.ts';
import type { ConsentDecision } from '../chain/indexer/ConsentCache.ts';
import type { Db } from '../store/db.ts';
import {
  type AccessPolicy,
  DEFAULT_ACCESS_POLICY,
  effectiveTreatmentAccess,
  NON_PATIENT_RESOURCE_TYPES,
} from './AccessPolicy.ts';
import { isActiveDelegate } from './delegates.ts';
import { type OpenEmergencyAccess, outboxEmergencyAccess } from './openEmergencyAccess.ts';
import type { Principal } from './Principal.ts';
import { type Interaction, scopeAllows } from './scopes.ts';

export interface AccessContext {
  db: Db;
  /** This node: its account address is the custodian of the data it holds. */
  identity: { account: { address: string } };
  indexer: Pick<ChainIndexer, 'status' | 'consent' | 'waitForBlock' | 'ensureFresh'>;
  accessPolicy?: Partial<AccessPolicy>;
  /** How break-glass reaches the chain; defaults to the outbox. Tests substitute it. */
  openEmergencyAccess?: OpenEmergencyAccess;
  /**
   * Whether a practitioner (`Practitioner/123`) has a current care relationship with a patient:
   * the FHIR layer answers from the records (general practitioner, encounter, care team).
   */
  careRelationship?: (fhirUser: string, patientId: string) => Promise<string | undefined>;
  /**
   * Told once an emergency access has opened on chain, before the request is answered: the FHIR
   * layer notifies the patient. A failure is logged, never turned into a refusal of the emergency.
   */
  onEmergencyAccessOpened?: (opened: EmergencyAccessOpened) => Promise<void>;
  /**
   * Whether the patient restricted this practitioner (`Practitioner/123`) from treatment access
   * (HIPAA's right to request restrictions); the FHIR layer answers from its table.
   */
  isRestricted?: (patientId: string, fhirUser: string) => Promise<boolean>;
  /** Where a failed notification is reported. */
  logger?: { warn(message: string): void };
}

export interface EmergencyAccessOpened {
  patientId: string;
  patientAddress: string;
  /** The practitioner's chain address. */
  practitioner: string | undefined;
  /** Their username here. */
  practitionerName: string | undefined;
  fhirUser: string | undefined;
  /** Unix seconds the window closes. */
  until: number;
  txHash: string | null;
}

export interface AccessRequest {
  resourceType: string;
  interaction: Interaction;
  /** FHIR id of the patient whose compartment the resource is in, if any. */
  patientId?: string | undefined;
  /** That patient's chain address, if they have one. */
  patientAddress?: string | undefined;
  /** From `X-Purpose-Of-Use`; else the token's; else TREAT. */
  purpose?: string | undefined;
  /**
   * The request is decided per version it serves (instance history: versions may belong to
   * different patients): here only the token, purpose and scope; each version by the guard.
   */
  perVersion?: boolean | undefined;
  /** From `X-Break-Glass-Reason`. */
  breakGlassReason?: string | undefined;
  /** The resource the decision is about, when there is one (granular scopes must match it). */
  resource?: Resource | undefined;
  /** Every resource the request touches is decided again on its own (the FHIR interactions). */
  guarded?: boolean | undefined;
}

export type AccessBasis =
  | 'own-record'
  | 'treatment-relationship'
  | 'grant'
  | 'emergency'
  | 'not-patient-data'
  | 'per-version'
  | 'audit-review'
  | 'registration'
  | 'emergency-lookup'
  | 'delegate'
  | 'none';

export interface AccessDecision {
  allowed: boolean;
  /** 200 when allowed; 401, 403, 404 or 503 when not. */
  status: 200 | 401 | 403 | 404 | 503;
  reason: string;
  basis: AccessBasis;
  purpose: string;
  consent?: ConsentDecision;
  /** Set when this request opened emergency access on chain. */
  breakGlass?: { block: bigint; txHash: string | null; salt?: string };
}

export async function authorizeAccess(
  ctx: AccessContext,
  principal: Principal | undefined,
  request: AccessRequest,
): Promise<AccessDecision> {
  const policy = { ...DEFAULT_ACCESS_POLICY, ...ctx.accessPolicy };
  const purpose = request.purpose ?? principal?.purposeOfUse ?? 'TREAT';
  const deny = (
    status: AccessDecision['status'],
    reason: string,
    consent?: ConsentDecision,
  ): AccessDecision => ({
    allowed: false,
    status,
    reason,
    basis: consent?.basis ?? 'none',
    purpose,
    ...(consent === undefined ? {} : { consent }),
  });
  const allow = (basis: AccessBasis, reason: string): AccessDecision => ({
    allowed: true,
    status: 200,
    reason,
    basis,
    purpose,
  });

  if (!principal) return deny(401, 'no valid access token');
  if (principal.expiresAt * 1000 <= Date.now()) return deny(401, 'the access token has expired');
  if (purposeIndex(purpose) === undefined) return deny(403, `unknown purpose of use ${purpose}`);
  const scopeRequest = {
    context: principal.context,
    resourceType: request.resourceType,
    interaction: request.interaction,
    ...(request.guarded ? { guarded: true } : {}),
  };
  if (!scopeAllows(principal.scopes, scopeRequest, request.resource)) {
    return deny(403, `scope does not allow ${request.interaction} on ${request.resourceType}`);
  }
  if (request.perVersion)
    return allow('per-version', 'scope allows it; each version is decided for its own patients');
  if (NON_PATIENT_RESOURCE_TYPES.has(request.resourceType) && request.patientId === undefined) {
    return allow('not-patient-data', 'directory resource, allowed by scope');
  }
  // The audit log is for this institution's privacy officers (and its backend systems), not for
  // clinicians; a patient reads their own events (below).
  if (request.resourceType === 'AuditEvent' && principal.kind !== 'patient') {
    if (principal.internal && (principal.kind === 'officer' || principal.kind === 'system'))
      return allow('audit-review', "this institution's audit review");
    return deny(403, "the audit log is for this institution's privacy officers");
  }

  // A patient's delegate (guardian, proxy) reads and changes her consents, not her records.
  if (
    request.resourceType === 'Consent' &&
    request.patientId !== undefined &&
    request.patientAddress !== undefined &&
    principal.address !== undefined &&
    principal.patient !== request.patientId &&
    (await isActiveDelegate(ctx.db, request.patientAddress, principal.address))
  )
    return allow('delegate', "the patient's delegate, for her consents");

  if (principal.kind === 'registrar')
    return registrarDecision(principal, request, policy, purpose, allow, deny);

  if (principal.kind === 'patient') {
    if (principal.patient === undefined) return deny(403, 'the token has no patient context');
    if (request.patientId === undefined)
      return deny(403, "a patient token is limited to the patient's own compartment");
    if (request.patientId !== principal.patient) return deny(404, 'not found');
    return allow('own-record', "the patient's own record");
  }

  const treatment = effectiveTreatmentAccess(policy);
  if (principal.internal && treatment !== 'none' && policy.treatmentPurposes.includes(purpose)) {
    const basis = await treatmentBasis(ctx, principal, request, treatment);
    if (basis) return allow('treatment-relationship', `${basis} (${purpose})`);
  }

  // Everything else rests on consent recorded on chain.
  if (request.patientId === undefined)
    return deny(403, 'consent is per patient: the request must name one patient');
  if (request.patientAddress === undefined)
    return deny(403, 'the patient has no chain identity, so no consent applies');
  if (principal.address === undefined)
    return deny(403, 'the caller has no chain identity, so no consent applies');
  // A poll older than half a second: wait (up to 1 s) for a fresh one rather than decide on it.
  await ctx.indexer.ensureFresh(500, 1000);
  const current = consentStateIsCurrent(ctx, policy);
  if (!current.ok) return deny(503, `consent state not current: ${current.why}`);
  const query = {
    patient: request.patientAddress,
    grantee: principal.address,
    custodian: ctx.identity.account.address,
    resourceType: request.resourceType,
    purpose,
  };
  let consent = ctx.indexer.consent.decide(query);
  // A consent lets the grantee read and search what it names; the records stay the custodian's
  // to write (an emergency window, for this institution's own clinicians, covers writing too).
  if (
    consent.allowed &&
    consent.basis === 'grant' &&
    request.interaction !== 'r' &&
    request.interaction !== 's'
  )
    return deny(
      403,
      'a consent lets its grantee read, not write: records are written by the institution that holds them',
      consent,
    );
  if (consent.allowed) return { ...allow(consent.basis, `consent (${consent.basis})`), consent };

  const reason = request.breakGlassReason?.trim();
  if (reason && purpose === 'ETREAT') {
    if (principal.kind !== 'practitioner' || !principal.internal) {
      return deny(403, "break-glass is for this institution's practitioners only", consent);
    }
    const open = ctx.openEmergencyAccess ?? outboxEmergencyAccess(ctx);
    const opened = await open({
      patient: request.patientAddress,
      practitioner: principal.address,
      reason,
      durationSeconds: policy.emergencyDurationSeconds,
      timeoutMs: policy.breakGlassTimeoutMs,
    });
    if (!opened.opened) return deny(403, `emergency access was refused on chain: ${opened.error}`, consent);
    consent = ctx.indexer.consent.decide(query);
    if (consent.allowed) {
      if (request.patientId !== undefined)
        await ctx
          .onEmergencyAccessOpened?.({
            patientId: request.patientId,
            patientAddress: request.patientAddress,
            practitioner: principal.address,
            practitionerName: principal.subject,
            fhirUser: principal.fhirUser,
            until: Math.floor(Date.now() / 1000) + policy.emergencyDurationSeconds,
            txHash: opened.txHash,
          })
          .catch((error: unknown) =>
            ctx.logger?.warn(
              `break-glass notice not written: ${error instanceof Error ? error.message : String(error)}`,
            ),
          );
      return {
        ...allow(consent.basis, 'emergency access (break-glass) opened on chain'),
        consent,
        breakGlass: { block: opened.block, txHash: opened.txHash, salt: opened.salt },
      };
    }
  }
  return deny(403, `no consent for ${request.resourceType} with purpose ${purpose}`, consent);
}

/**
 * A registrar keeps the institution's registration records (who the patient is, their contacts
 * and coverage) for its operations: read, search, create and update those types, never delete,
 * never a clinical record, never the audit log, and only this institution's own registrars.
 */
function registrarDecision(
  principal: Principal,
  request: AccessRequest,
  policy: AccessPolicy,
  purpose: string,
  allow: (basis: AccessBasis, reason: string) => AccessDecision,
  deny: (status: AccessDecision['status'], reason: string) => AccessDecision,
): AccessDecision {
  if (!principal.internal) return deny(403, "registrars act for their own institution's records only");
  if (!policy.registrationResourceTypes.includes(request.resourceType))
    return deny(
      403,
      `a registrar keeps registration records (${policy.registrationResourceTypes.join(', ')}), not ${request.resourceType}`,
    );
  if (request.interaction === 'd') return deny(403, 'registrars do not delete records');
  if (!policy.treatmentPurposes.includes(purpose))
    return deny(403, 'registration serves treatment, payment and operations only');
  return allow('registration', "this institution's patient registration");
}

/**
 * Whether consent decisions can be trusted to be current (fail closed otherwise): the indexer
 * has polled the chain recently and is within `maxBlocksBehind` of the final block (it applies only
 * final blocks, ../chain/finality.ts). `/healthz` reports it.
 */
export function consentStateIsCurrent(
  ctx: Pick<AccessContext, 'indexer'>,
  policy: AccessPolicy = DEFAULT_ACCESS_POLICY,
): { ok: true } | { ok: false; why: string } {
  const { block, head, final, polledAt } = ctx.indexer.status;
  if (polledAt === 0 || head < 0n) return { ok: false, why: 'the indexer has not polled the chain yet' };
  const target = final ?? head;
  if (target - block > policy.maxBlocksBehind)
    return { ok: false, why: `indexer at block ${block}, chain head ${head} (final ${target})` };
  const age = Date.now() - polledAt;
  if (age > policy.maxConsentStalenessMs) return { ok: false, why: `last chain poll ${age} ms ago` };
  return { ok: true };
}

/**
 * Why an internal principal may read for treatment, in words, or undefined. Backend systems of
 * the institution act for it; a practitioner needs the policy's relationship and no restriction
 * by the patient (a revocation on chain of that practitioner); officers never.
 */
async function treatmentBasis(
  ctx: AccessContext,
  principal: Principal,
  request: AccessRequest,
  treatment: 'care-team' | 'institution',
): Promise<string | undefined> {
  if (principal.kind === 'system') return "this institution's treatment relationship";
  if (principal.kind !== 'practitioner') return undefined;
  if (
    request.patientAddress !== undefined &&
    principal.address !== undefined &&
    ctx.indexer.consent.revokedBy(request.patientAddress, principal.address, ctx.identity.account.address)
  )
    return undefined; // the patient restricted this practitioner
  if (
    request.patientId !== undefined &&
    principal.fhirUser !== undefined &&
    (await ctx.isRestricted?.(request.patientId, principal.fhirUser))
  )
    return undefined; // the patient asked to restrict this practitioner
  if (treatment === 'institution') return "this institution's treatment relationship";
  if (request.patientId === undefined || principal.fhirUser === undefined || !ctx.careRelationship)
    return undefined;
  const relationship = await ctx.careRelationship(principal.fhirUser, request.patientId);
  return relationship === undefined ? undefined : `care team: ${relationship}`;
}
