/**
 * What every access produces: one audit event, allowed or denied, in the shape of a FHIR
 * AuditEvent as profiled by IHE Basic Audit Log Patterns (BALP,
 * https://profiles.ihe.net/ITI/BALP/), and the sink it goes to. `append` is the only way
 * an event is written.
 */

/** RESTful interaction codes (http://hl7.org/fhir/restful-interaction). */
export type RestInteraction =
  | 'read'
  | 'vread'
  | 'update'
  | 'patch'
  | 'delete'
  | 'history'
  | 'history-instance'
  | 'history-type'
  | 'history-system'
  | 'create'
  | 'search'
  | 'search-type'
  | 'search-system'
  | 'capabilities'
  | 'batch'
  | 'transaction'
  | 'operation';

export interface AuditAgent {
  /** OAuth client that made the request. */
  clientId?: string;
  /** Username, or the `fhirUser` reference (`Practitioner/123`). */
  user?: string;
  fhirUser?: string;
  /** Chain address of the user or of the member the client acts for. */
  address?: string;
  /** The organization or patient the agent acts for. */
  onBehalfOf?: string;
  /** Network address the request came from. */
  network?: string;
}

export interface AuditEventInput {
  type: { system: 'http://terminology.hl7.org/CodeSystem/audit-event-type'; code: 'rest' };
  subtype: RestInteraction;
  /** C create, R read, U update, D delete, E execute (search, operations). */
  action: 'C' | 'R' | 'U' | 'D' | 'E';
  /** ISO 8601 instant the decision was made. */
  recorded: string;
  /** 0 success, 4 minor failure (denied), 8 serious failure (could not decide). */
  outcome: '0' | '4' | '8';
  outcomeDesc?: string;
  agent: AuditAgent;
  /** This node (custodian) address: the observer. */
  source: { observer: string };
  entity: {
    /** `Patient/123`, when the request is in a patient's compartment. */
    patient?: string;
    /** The other patients whose data the request touched (`Patient/456`), each indexed too. */
    patients?: string[];
    /** `Observation/9`, `Observation/9/_history/2`. */
    resources: string[];
    /** The query string of a search. */
    query?: string;
  };
  /** HL7 v3 PurposeOfUse code the access was made for. */
  purposeOfUse: string;
  /** What the decision rested on (for every allowed access; docs/audit.md lists the bases). */
  consent?: {
    basis:
      | 'grant'
      | 'emergency'
      | 'none'
      | 'treatment-relationship'
      | 'own-record'
      | 'registration'
      | 'emergency-lookup'
      | 'delegate'
      | 'audit-review'
      | 'not-patient-data'
      | 'per-version';
    /** Block the consent state was current to (decimal). */
    block?: string;
    /** Block of the grant or emergency access the decision rests on (decimal). */
    sourceBlock?: string;
  };
  /** Break-glass reason given by the practitioner (never sent on chain; only its hash). */
  breakGlassReason?: string;
  /** The salt of the reason's on-chain hash, `keccak256(salt ‖ utf8(reason))` (hex). */
  breakGlassSalt?: string;
}

export interface AuditSink {
  append(event: AuditEventInput): Promise<void>;
}
