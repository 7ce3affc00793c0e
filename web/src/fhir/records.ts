/**
 * A patient's FHIR resources as a readable timeline: one entry per encounter, condition,
 * medication, allergy, observation (value with its unit), immunization, procedure and report,
 * newest first, each with where it came from (`meta.source`, or a Provenance naming it).
 */

/** FHIR JSON, read defensively field by field. */
// biome-ignore lint/suspicious/noExplicitAny: the one loose type of the portal's FHIR reading
export type Loose = any;

export type Resource = {
  resourceType: string;
  id?: string;
  meta?: { versionId?: string; lastUpdated?: string; source?: string };
  [key: string]: Loose;
};

export type TimelineKind =
  | 'Encounter'
  | 'Condition'
  | 'Medication'
  | 'Allergy'
  | 'Observation'
  | 'Immunization'
  | 'Procedure'
  | 'Report';

export interface TimelineEntry {
  key: string;
  /** `Observation/12/_history/1`. */
  version: string;
  kind: TimelineKind;
  date: string | undefined;
  title: string;
  detail: string;
  /** Where it came from: another member's URL, or undefined when held here. */
  source: string | undefined;
}

const KIND: Record<string, TimelineKind> = {
  Encounter: 'Encounter',
  Condition: 'Condition',
  MedicationRequest: 'Medication',
  MedicationStatement: 'Medication',
  AllergyIntolerance: 'Allergy',
  Observation: 'Observation',
  Immunization: 'Immunization',
  Procedure: 'Procedure',
  DiagnosticReport: 'Report',
};

export const TIMELINE_KINDS: readonly TimelineKind[] = [
  'Encounter',
  'Condition',
  'Medication',
  'Allergy',
  'Observation',
  'Immunization',
  'Procedure',
  'Report',
];

export const codeText = (cc: Loose): string | undefined =>
  cc?.text ?? cc?.coding?.[0]?.display ?? cc?.coding?.[0]?.code;

export function quantityText(q: Loose): string | undefined {
  if (q?.value === undefined) return undefined;
  const unit = q.unit ?? q.code;
  return unit ? `${q.value} ${unit}` : String(q.value);
}

function observationValue(r: Resource): string {
  const direct =
    quantityText(r.valueQuantity) ??
    codeText(r.valueCodeableConcept) ??
    (r.valueString as string | undefined) ??
    (r.valueBoolean === undefined ? undefined : r.valueBoolean ? 'yes' : 'no');
  if (direct) return direct;
  const parts = (r.component ?? []).map(
    (c: Loose) =>
      `${codeText(c.code)}: ${quantityText(c.valueQuantity) ?? codeText(c.valueCodeableConcept) ?? '—'}`,
  );
  return parts.join('; ');
}

function describe(r: Resource): { date: string | undefined; title: string; detail: string } {
  switch (r.resourceType) {
    case 'Encounter':
      return {
        date: r.period?.start,
        title: codeText(r.type?.[0]) ?? 'Encounter',
        detail: [r.class?.display ?? r.class?.code, codeText(r.reasonCode?.[0]), r.serviceProvider?.display]
          .filter(Boolean)
          .join(' · '),
      };
    case 'Condition':
      return {
        date: r.onsetDateTime ?? r.recordedDate,
        title: codeText(r.code) ?? 'Condition',
        detail: [
          codeText(r.clinicalStatus),
          r.abatementDateTime ? `resolved ${r.abatementDateTime.slice(0, 10)}` : '',
        ]
          .filter(Boolean)
          .join(' · '),
      };
    case 'MedicationRequest':
    case 'MedicationStatement':
      return {
        date: r.authoredOn ?? r.effectiveDateTime ?? r.effectivePeriod?.start,
        title: codeText(r.medicationCodeableConcept) ?? r.medicationReference?.display ?? 'Medication',
        detail: [r.status, r.dosageInstruction?.[0]?.text ?? r.dosage?.[0]?.text].filter(Boolean).join(' · '),
      };
    case 'AllergyIntolerance':
      return {
        date: r.recordedDate ?? r.onsetDateTime,
        title: codeText(r.code) ?? 'Allergy',
        detail: [
          r.criticality && `criticality ${r.criticality}`,
          codeText(r.reaction?.[0]?.manifestation?.[0]),
        ]
          .filter(Boolean)
          .join(' · '),
      };
    case 'Observation':
      return {
        date: r.effectiveDateTime ?? r.effectivePeriod?.start ?? r.issued,
        title: codeText(r.code) ?? 'Observation',
        detail: observationValue(r),
      };
    case 'Immunization':
      return {
        date: r.occurrenceDateTime,
        title: codeText(r.vaccineCode) ?? 'Immunization',
        detail: r.status ?? '',
      };
    case 'Procedure':
      return {
        date: r.performedDateTime ?? r.performedPeriod?.start,
        title: codeText(r.code) ?? 'Procedure',
        detail: r.status ?? '',
      };
    default:
      return {
        date: r.effectiveDateTime ?? r.issued,
        title: codeText(r.code) ?? r.resourceType,
        detail: r.conclusion ?? r.status ?? '',
      };
  }
}

export function toTimeline(resources: readonly Resource[]): TimelineEntry[] {
  const provenance = new Map<string, string>();
  for (const p of resources.filter((r) => r.resourceType === 'Provenance')) {
    const who = p.agent?.[0]?.who?.display ?? p.agent?.[0]?.who?.reference ?? p.entity?.[0]?.what?.reference;
    for (const target of p.target ?? []) if (target.reference && who) provenance.set(target.reference, who);
  }
  const entries: TimelineEntry[] = [];
  for (const r of resources) {
    const kind = KIND[r.resourceType];
    if (!kind || !r.id) continue;
    const reference = `${r.resourceType}/${r.id}`;
    entries.push({
      key: reference,
      version: `${reference}/_history/${r.meta?.versionId ?? '1'}`,
      kind,
      ...describe(r),
      source: r.meta?.source ?? provenance.get(reference),
    });
  }
  return entries.sort((a, b) => (b.date ?? '').localeCompare(a.date ?? ''));
}

export function patientName(patient: Resource | undefined): string {
  const name = patient?.name?.[0];
  if (!name) return patient?.id ? `Patient ${patient.id}` : 'Patient';
  return name.text ?? [...(name.given ?? []), name.family].filter(Boolean).join(' ');
}

export const ADDRESS_SYSTEM = 'urn:medledger:address';

export function patientAddress(patient: Resource | undefined): string | undefined {
  return patient?.identifier?.find((i: Loose) => i.system === ADDRESS_SYSTEM)?.value?.toLowerCase();
}
