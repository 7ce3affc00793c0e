/**
 * How consent scope and purpose are encoded on chain: resource types as bits of a
 * uint64 (all bits = every type), purposes of use as bits of a uint32 using the HL7
 * v3 PurposeOfUse codes (http://terminology.hl7.org/CodeSystem/v3-ActReason).
 * The order is part of the on-chain format: append only.
 */

export const CONSENT_RESOURCE_TYPES = [
  'Patient',
  'Practitioner',
  'PractitionerRole',
  'Organization',
  'Encounter',
  'Observation',
  'Condition',
  'Procedure',
  'MedicationRequest',
  'MedicationStatement',
  'MedicationAdministration',
  'MedicationDispense',
  'Medication',
  'Immunization',
  'AllergyIntolerance',
  'DiagnosticReport',
  'DocumentReference',
  'CarePlan',
  'CareTeam',
  'Goal',
  'ServiceRequest',
  'Specimen',
  'ImagingStudy',
  'Device',
  'Coverage',
  'Claim',
  'ExplanationOfBenefit',
  'Consent',
  'AuditEvent',
  'Provenance',
  'Location',
  'RelatedPerson',
  'QuestionnaireResponse',
  'FamilyMemberHistory',
  'Composition',
  'Binary',
  'Appointment',
  'EpisodeOfCare',
  'SupplyDelivery',
  'NutritionOrder',
  'RiskAssessment',
  'ClinicalImpression',
  'DetectedIssue',
  'Communication',
  'Flag',
  'List',
  'Media',
  'MolecularSequence',
  'BodyStructure',
  'Group',
] as const;

export type ConsentResourceType = (typeof CONSENT_RESOURCE_TYPES)[number];

/** Every bit set: the grant covers all resource types, including ones added later. */
export const ALL_RESOURCE_TYPES = (1n << 64n) - 1n;

export const PURPOSES_OF_USE = [
  'TREAT',
  'ETREAT',
  'HPAYMT',
  'HOPERAT',
  'HRESCH',
  'PUBHLTH',
  'PATRQT',
  'COVERAGE',
  'HDIRECT',
  'FAMRQT',
  'PWATRNY',
  'SUPNWK',
  'CAREMGT',
] as const;

export type PurposeOfUse = (typeof PURPOSES_OF_USE)[number];

export function resourceTypeIndex(type: string): number | undefined {
  const i = (CONSENT_RESOURCE_TYPES as readonly string[]).indexOf(type);
  return i < 0 ? undefined : i;
}

export function purposeIndex(purpose: string): number | undefined {
  const i = (PURPOSES_OF_USE as readonly string[]).indexOf(purpose);
  return i < 0 ? undefined : i;
}

/** Bitmask of the given resource types; `'*'` alone means all. */
export function encodeResourceTypes(types: readonly string[]): bigint {
  if (types.includes('*')) return ALL_RESOURCE_TYPES;
  let mask = 0n;
  for (const type of types) {
    const i = resourceTypeIndex(type);
    if (i === undefined) throw new RangeError(`resource type ${type} cannot be named in a consent`);
    mask |= 1n << BigInt(i);
  }
  return mask;
}

export function decodeResourceTypes(mask: bigint): string[] {
  if (mask === ALL_RESOURCE_TYPES) return ['*'];
  return CONSENT_RESOURCE_TYPES.filter((_, i) => (mask >> BigInt(i)) & 1n);
}

export function encodePurposes(purposes: readonly string[]): number {
  let mask = 0;
  for (const purpose of purposes) {
    const i = purposeIndex(purpose);
    if (i === undefined) throw new RangeError(`unknown purpose of use ${purpose}`);
    mask |= 1 << i;
  }
  return mask >>> 0;
}

export function decodePurposes(mask: number): PurposeOfUse[] {
  return PURPOSES_OF_USE.filter((_, i) => (mask >>> i) & 1);
}

/** Each purpose of use in words, as a patient reads it (the portal and "who has access"). */
export const PURPOSE_WORDS: Readonly<Record<string, string>> = {
  TREAT: 'treatment',
  ETREAT: 'emergency treatment',
  HPAYMT: 'payment',
  HOPERAT: 'healthcare operations',
  HRESCH: 'research',
  PUBHLTH: 'public health',
  PATRQT: 'patient request',
  COVERAGE: 'coverage',
  HDIRECT: 'directory',
  FAMRQT: 'family request',
  PWATRNY: 'power of attorney',
  SUPNWK: 'support network',
  CAREMGT: 'care management',
};
