/** The knobs of the access decision, with safe defaults (embedded mode needs none set). */

export interface AccessPolicy {
  /**
   * This institution's own staff and backend systems act under its treatment relationship
   * for data it holds, without a patient consent on chain.
   */
  treatmentRelationship: boolean;
  /** Purposes of use the treatment relationship covers (HIPAA's treatment, payment, operations). */
  treatmentPurposes: readonly string[];
  /** Consent decisions are refused (503) when the indexer's last poll is older than this... */
  maxConsentStalenessMs: number;
  /** ...or when it is more than this many blocks behind the head it last saw. */
  maxBlocksBehind: bigint;
  /** How long a break-glass window stays open (the contract allows at most 24 h). */
  emergencyDurationSeconds: number;
  /** How long a request waits for its break-glass transaction to be confirmed and indexed. */
  breakGlassTimeoutMs: number;
}

export const DEFAULT_ACCESS_POLICY: AccessPolicy = {
  treatmentRelationship: true,
  treatmentPurposes: ['TREAT', 'HPAYMT', 'HOPERAT'],
  maxConsentStalenessMs: 5_000,
  maxBlocksBehind: 1n,
  emergencyDurationSeconds: 4 * 3600,
  breakGlassTimeoutMs: 30_000,
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
