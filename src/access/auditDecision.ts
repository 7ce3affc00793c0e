/** Builds the one audit event (IHE BALP shape) of an access decision, allowed or denied. */
import type { AuditEventInput, RestInteraction } from '../audit/AuditSink.ts';
import type { AccessDecision, AccessRequest } from './authorizeAccess.ts';
import type { Principal } from './Principal.ts';
import type { Interaction } from './scopes.ts';

export interface AuditDecisionParameters {
  principal: Principal | undefined;
  request: AccessRequest;
  decision: AccessDecision;
  /** This node's address (the observer). */
  observer: string;
  /** The exact REST interaction; defaults from the request's c/r/u/d/s. */
  subtype?: RestInteraction;
  /** `Observation/9`, `Observation/9/_history/2`. */
  resources?: string[];
  /** Query string of a search. */
  query?: string;
  /** Network address the request came from. */
  network?: string;
  /**
   * Every patient whose data the request touched (ids), besides the request's own patient: the
   * patients of what was served, written, counted or refused. Each finds the event in their report.
   */
  patients?: readonly string[];
  recorded?: Date;
}

const SUBTYPES: Record<Interaction, RestInteraction> = {
  c: 'create',
  r: 'read',
  u: 'update',
  d: 'delete',
  s: 'search-type',
};
const ACTIONS: Record<Interaction, AuditEventInput['action']> = { c: 'C', r: 'R', u: 'U', d: 'D', s: 'E' };

export function auditDecision(parameters: AuditDecisionParameters): AuditEventInput {
  const { principal, request, decision } = parameters;
  const agent: AuditEventInput['agent'] = {};
  if (principal) {
    agent.clientId = principal.clientId;
    if (principal.kind !== 'system') agent.user = principal.subject;
    if (principal.fhirUser !== undefined) agent.fhirUser = principal.fhirUser;
    if (principal.address !== undefined) agent.address = principal.address;
    if (principal.kind === 'patient' && principal.patient !== undefined)
      agent.onBehalfOf = `Patient/${principal.patient}`;
  }
  if (parameters.network !== undefined) agent.network = parameters.network;
  const event: AuditEventInput = {
    type: { system: 'http://terminology.hl7.org/CodeSystem/audit-event-type', code: 'rest' },
    subtype: parameters.subtype ?? SUBTYPES[request.interaction],
    action: ACTIONS[request.interaction],
    recorded: (parameters.recorded ?? new Date()).toISOString(),
    outcome: decision.allowed ? '0' : decision.status === 503 ? '8' : '4',
    outcomeDesc: decision.reason,
    agent,
    source: { observer: parameters.observer.toLowerCase() },
    entity: { resources: parameters.resources ?? [] },
    purposeOfUse: decision.purpose,
  };
  if (request.patientId !== undefined) event.entity.patient = `Patient/${request.patientId}`;
  const others = [...new Set(parameters.patients ?? [])]
    .filter((id) => id !== request.patientId)
    .sort()
    .map((id) => `Patient/${id}`);
  if (others.length > 0) {
    if (event.entity.patient === undefined) event.entity.patient = others.shift() as string;
    if (others.length > 0) event.entity.patients = others;
  }
  if (parameters.query !== undefined) event.entity.query = parameters.query;
  if (decision.consent) {
    event.consent = {
      basis:
        decision.basis === 'treatment-relationship' || decision.basis === 'own-record'
          ? decision.basis
          : decision.consent.basis,
      block: decision.consent.block.toString(),
      ...(decision.consent.sourceBlock === undefined
        ? {}
        : { sourceBlock: decision.consent.sourceBlock.toString() }),
    };
  } else if (decision.allowed && decision.basis !== 'none') {
    event.consent = { basis: decision.basis };
  }
  if (
    (decision.breakGlass || decision.basis === 'emergency-lookup') &&
    request.breakGlassReason !== undefined
  ) {
    event.breakGlassReason = request.breakGlassReason;
    if (decision.breakGlass?.salt !== undefined) event.breakGlassSalt = decision.breakGlass.salt;
  }
  return event;
}
