/**
 * The custodian's side of an exchange request, once its signature is verified: the requester
 * must be an active member; consent on chain (grantee = the requester, custodian = this node)
 * decides which resource types it gets; every disclosed version has passed this node's own
 * integrity checks and is anchored (pending versions are listed, not disclosed). Exactly one
 * audit event records the request, allowed or refused, so it appears in the patient's
 * `$access-report` with its proof.
 */
import { Operator } from '@medplum/core';
import type { Hex } from 'viem';
import { auditDecision } from '../access/auditDecision.ts';
import { type AccessDecision, type AccessRequest, authorizeAccess } from '../access/authorizeAccess.ts';
import type { Principal } from '../access/Principal.ts';
import { parseScopes } from '../access/scopes.ts';
import { CONSENT_RESOURCE_TYPES } from '../chain/consentCodes.ts';
import type { FhirService } from '../fhir/FhirService.ts';
import {
  ADDRESS_SYSTEM,
  compartmentParams,
  compartmentPatients,
  patientAddressOf,
} from '../fhir/patientCompartment.ts';
import { lookupCandidates, patientCompartmentCandidates } from '../fhir/search/lookupCandidates.ts';
import type { DisclosedVersion } from '../vault/VaultReader.ts';
import { type DisclosedRecord, type Disclosure, EXCHANGE_PROTOCOL } from './disclosure.ts';
import { ExchangeError } from './ExchangeError.ts';
import { findMember } from './memberDirectory.ts';

export interface DiscloseParameters {
  /** The verified signer. */
  member: string;
  /** The patient's chain address. */
  patient: string;
  purpose: string;
  /** Network address of the caller, for the audit event. */
  network?: string;
}

/** A remote member as an access principal: no scopes beyond reading, never internal. */
export function memberPrincipal(member: string, name: string): Principal {
  return {
    kind: 'system',
    context: 'system',
    subject: `member:${member}`,
    clientId: `member:${member}${name ? ` (${name})` : ''}`,
    scope: 'system/*.rs',
    scopes: parseScopes('system/*.rs'),
    address: member,
    internal: false,
    expiresAt: Math.floor(Date.now() / 1000) + 60,
  };
}

export async function discloseRecords(service: FhirService, p: DiscloseParameters): Promise<Disclosure> {
  const { ctx } = service;
  const member = await findMember(ctx, p.member);
  const principal = memberPrincipal(p.member, member?.name ?? '');
  const base: AccessRequest = {
    resourceType: 'Patient',
    interaction: 'r',
    patientAddress: p.patient,
    purpose: p.purpose,
  };
  const refuse = async (request: AccessRequest, decision: AccessDecision, error: ExchangeError) => {
    await audit(service, principal, request, decision, [], p.network);
    error.audited = true;
    return error;
  };
  const denied = (status: AccessDecision['status'], reason: string): AccessDecision => ({
    allowed: false,
    status,
    reason,
    basis: 'none',
    purpose: p.purpose,
  });

  const patientId = await localPatientId(service, p.patient);
  const request = patientId === undefined ? base : { ...base, patientId };
  if (!member?.active) {
    const reason = member
      ? 'the requesting node is no longer a member'
      : 'the requesting node is not a member';
    throw await refuse(request, denied(403, reason), new ExchangeError('ERR_EXCHANGE_NOT_MEMBER', reason));
  }
  // Granted types first: who learns whether the patient is known here is the consented grantee only.
  const allowedTypes = new Map<string, AccessDecision>();
  let lastDecision: AccessDecision | undefined;
  for (const resourceType of CONSENT_RESOURCE_TYPES) {
    const decision = await authorizeAccess(ctx, principal, {
      ...request,
      resourceType,
      // Consent needs a named patient; an unknown one still gets the same consent answer.
      patientId: patientId ?? 'unknown',
    });
    lastDecision = decision;
    if (decision.status === 503) {
      throw await refuse(request, decision, new ExchangeError('ERR_EXCHANGE_UNAVAILABLE', decision.reason));
    }
    if (decision.allowed) allowedTypes.set(resourceType, decision);
  }
  if (allowedTypes.size === 0) {
    const reason = `no consent on chain lets ${p.member} receive this patient's records for ${p.purpose}`;
    throw await refuse(
      request,
      { ...(lastDecision ?? denied(403, reason)), allowed: false, status: 403, reason },
      new ExchangeError('ERR_EXCHANGE_NO_CONSENT', reason),
    );
  }
  if (patientId === undefined) {
    const reason = 'no records of this patient are held here';
    throw await refuse(request, denied(404, reason), new ExchangeError('ERR_EXCHANGE_NOT_FOUND', reason));
  }

  const records: DisclosedRecord[] = [];
  const pending: string[] = [];
  const candidates = [
    { resourceType: 'Patient', id: patientId },
    ...(await patientCompartmentCandidates(ctx.db, service.key, patientId)),
  ];
  candidates.sort((a, b) => a.resourceType.localeCompare(b.resourceType) || a.id.localeCompare(b.id));
  const reader = ctx.vault.reader();
  // A version in several patients' compartments is disclosed only when every one of them allows it.
  const guard = service.guardFor(principal, { purpose: p.purpose });
  const patients = new Set<string>([patientId]);
  for (const { resourceType, id } of candidates) {
    if (!allowedTypes.has(resourceType)) continue;
    if (resourceType !== 'Patient' && !compartmentParams(resourceType)) continue;
    // The vault's verified read: a version failing a check is an integrity alert and is not sent.
    const version = await reader.disclose(resourceType, id);
    if (!version) continue;
    const concerns = compartmentPatients(version.resource as never);
    if (!concerns.includes(patientId)) continue;
    if (concerns.length > 1 && !(await guard.allows(version.resource as never, 'r', ctx.db))) continue;
    for (const other of concerns) patients.add(other);
    if (version.anchor.status !== 'anchored')
      pending.push(`${resourceType}/${id}/_history/${version.versionId}`);
    else records.push(disclosed(resourceType, id, version));
  }
  const [first] = allowedTypes.values();
  const decision: AccessDecision = {
    ...(first as AccessDecision),
    reason: `disclosed ${records.length} record versions to member ${p.member} (${member.name}) over the exchange${
      pending.length > 0 ? `; ${pending.length} not yet anchored` : ''
    }`,
  };
  await audit(
    service,
    principal,
    { ...request, patientId },
    decision,
    records.map((r) => `${r.resourceType}/${r.id}/_history/${r.versionId}`),
    p.network,
    [...patients],
  );
  return {
    protocol: EXCHANGE_PROTOCOL,
    custodian: ctx.identity.account.address.toLowerCase(),
    patient: p.patient.toLowerCase(),
    patientId,
    purpose: p.purpose,
    consentBlock: (first?.consent?.block ?? ctx.indexer.status.block).toString(),
    records,
    pending,
  };
}

/** The custodian's own patient carrying this chain address (the latest Patient version says so). */
async function localPatientId(service: FhirService, address: string): Promise<string | undefined> {
  const value = `${ADDRESS_SYSTEM}|${address.toLowerCase()}`;
  const ids = await lookupCandidates(service.ctx.db, service.key, 'Patient', [
    { code: 'identifier', operator: Operator.EQUALS, value },
  ]);
  for (const id of [...(ids ?? [])].sort()) {
    // The vault's verified read: a tampered Patient is an integrity alert, never a match.
    const current = await service.ctx.vault.read('Patient', id).catch(() => undefined);
    if (current && patientAddressOf(current.resource as never) === address.toLowerCase()) return id;
  }
  return undefined;
}

/** What the requester needs to recompute an anchored version's leaf and check it against the chain. */
function disclosed(resourceType: string, id: string, version: DisclosedVersion): DisclosedRecord {
  const hex = (b: Uint8Array): Hex => `0x${Buffer.from(b).toString('hex')}`;
  const anchor = version.anchor;
  return {
    resourceType,
    id,
    versionId: version.versionId,
    resource: version.resource as DisclosedRecord['resource'],
    salt: hex(version.salt),
    ciphertextHash: hex(version.ciphertextHash),
    batchSequence: anchor.status === 'anchored' ? anchor.batchSequence.toString() : '',
    batchIndex: anchor.status === 'anchored' ? anchor.batchIndex : -1,
    proof: anchor.status === 'anchored' ? anchor.proof : [],
  };
}

async function audit(
  service: FhirService,
  principal: Principal,
  request: AccessRequest,
  decision: AccessDecision,
  resources: string[],
  network: string | undefined,
  patients: readonly string[] = [],
): Promise<void> {
  await service.ctx.audit.append(
    auditDecision({
      principal,
      request,
      decision,
      observer: service.ctx.identity.account.address,
      subtype: 'operation',
      resources,
      query: 'exchange=records',
      patients,
      ...(network === undefined ? {} : { network }),
    }),
  );
}
