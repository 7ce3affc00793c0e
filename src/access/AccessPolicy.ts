/** The knobs of the access decision, with safe defaults (embedded mode needs none set). */
import type { TreatmentAccess } from '../config/TreatmentAccess.ts';

export interface AccessPolicy {
  /** See {@link TreatmentAccess}. */
  treatmentAccess: TreatmentAccess;
  /** `false` is `treatmentAccess: 'none'` (kept for callers that switch it off wholesale). */
  treatmentRelationship: boolean;
  /** Purposes of use the treatment relationship covers (HIPAA's treatment, payment, operations). */
  treatmentPurposes: readonly string[];
  /**
   * Consent decisions are refused (503) when the indexer's last poll is older than this (a decision
   * first waits up to a second for a fresh poll: a hung chain is refused within 2 s)...
   */
  maxConsentStalenessMs: number;
  /** ...or when it is more than this many blocks behind the final block it last saw. */
  maxBlocksBehind: bigint;
  /** How long a break-glass window stays open (the contract allows at most 24 h). */
  emergencyDurationSeconds: number;
  /** How long a request waits for its break-glass transaction to be confirmed and indexed. */
  breakGlassTimeoutMs: number;
  /** What registrars keep: who the patient is, their contacts and their coverage. */
  registrationResourceTypes: readonly string[];
}

/** The treatment setting in force (`treatmentRelationship: false` switches it off wholesale). */
export function effectiveTreatmentAccess(
  policy: Pick<AccessPolicy, 'treatmentAccess' | 'treatmentRelationship'>,
): TreatmentAccess {
  return policy.treatmentRelationship ? policy.treatmentAccess : 'none';
}

export const DEFAULT_ACCESS_POLICY: AccessPolicy = {
  treatmentAccess: 'care-team',
  treatmentRelationship: true,
  treatmentPurposes: ['TREAT', 'HPAYMT', 'HOPERAT'],
  maxConsentStalenessMs: 2_000,
  maxBlocksBehind: 1n,
  emergencyDurationSeconds: 4 * 3600,
  breakGlassTimeoutMs: 30_000,
  registrationResourceTypes: ['Patient', 'RelatedPerson', 'Coverage'],
};

/**
 * Resource types that are not patient data (directory and definitional resources); every
 * other type is treated as being in a patient's compartment, so it fails closed.
 */
export const NON_PATIENT_RESOURCE_TYPES: ReadonlySet<string> = new Set([
  'Practitioner',
  'PractitionerRole',
  'Organization',
  'Location',
  'HealthcareService',
  'Endpoint',
  'Medication',
  'Substance',
  'CapabilityStatement',
  'StructureDefinition',
  'ValueSet',
  'CodeSystem',
  'ConceptMap',
  'SearchParameter',
  'OperationDefinition',
  'Questionnaire',
]);
