/**
 * A patient's FHIR resources as records people read: one entry per resource of a kind the
 * portal renders (visits, conditions, medications, allergies, results, reports, immunizations,
 * procedures, care plans, goals, imaging, documents, claims, explanations of benefit, devices),
 * each with a date, a title by its code's display, a detail line in words, and where it came from
 * (`meta.source`, or a Provenance naming it).
 */
import {
  codeText,
  encounterClassText,
  type Loose,
  moneyText,
  observationValueText,
  quantityText,
  statusText,
} from './present.ts';

export type { Loose } from './present.ts';

export type Resource = {
  resourceType: string;
  id?: string;
  meta?: { versionId?: string; lastUpdated?: string; source?: string };
  [key: string]: Loose;
};

export type RecordKind =
  | 'Visit'
  | 'Condition'
  | 'Medication'
  | 'Allergy'
  | 'Result'
  | 'Report'
  | 'Immunization'
  | 'Procedure'
  | 'Care plan'
  | 'Goal'
  | 'Imaging'
  | 'Document'
  | 'Claim'
  | 'Benefit'
  | 'Device';

export interface RecordEntry {
  /** `Observation/12`. */
  key: string;
  /** `Observation/12/_history/1`: what the browser verifies on chain. */
  version: string;
  kind: RecordKind;
  resource: Resource;
  date: string | undefined;
  title: string;
  detail: string;
  /** `Encounter/7` when the record was made during a visit. */
  encounter: string | undefined;
  /** Where it came from: another member's URL, or undefined when held here. */
  source: string | undefined;
}

const KIND: Readonly<Record<string, RecordKind>> = {
  Encounter: 'Visit',
  Condition: 'Condition',
  MedicationRequest: 'Medication',
  MedicationStatement: 'Medication',
  AllergyIntolerance: 'Allergy',
  Observation: 'Result',
  DiagnosticReport: 'Report',
  Immunization: 'Immunization',
  Procedure: 'Procedure',
  CarePlan: 'Care plan',
  Goal: 'Goal',
  ImagingStudy: 'Imaging',
  DocumentReference: 'Document',
  Claim: 'Claim',
  ExplanationOfBenefit: 'Benefit',
  Device: 'Device',
};

export const RECORD_KINDS: readonly RecordKind[] = [
  'Visit',
  'Condition',
  'Medication',
  'Allergy',
  'Result',
  'Report',
  'Immunization',
  'Procedure',
  'Care plan',
  'Goal',
  'Imaging',
  'Document',
  'Claim',
  'Benefit',
  'Device',
];

export const KIND_LABEL: Readonly<Record<RecordKind, string>> = {
  Visit: 'Visits',
  Condition: 'Conditions',
  Medication: 'Medications',
  Allergy: 'Allergies',
  Result: 'Results and vital signs',
  Report: 'Lab and diagnostic reports',
  Immunization: 'Immunizations',
  Procedure: 'Procedures',
  'Care plan': 'Care plans',
  Goal: 'Goals',
  Imaging: 'Imaging studies',
  Document: 'Documents',
  Claim: 'Claims',
  Benefit: 'Explanations of benefit',
  Device: 'Devices',
};

const dateOnly = (iso: string | undefined) => iso?.slice(0, 10);
const join = (...parts: (string | undefined | false | null)[]) => parts.filter(Boolean).join(' · ');

function describe(r: Resource): { date: string | undefined; title: string; detail: string } {
  switch (r.resourceType) {
    case 'Encounter': {
      const visit = encounterClassText(r.class);
      return {
        date: r.period?.start,
        title: codeText(r.type?.[0]) ?? visit ?? 'Visit',
        detail: join(visit, codeText(r.reasonCode?.[0]), r.serviceProvider?.display),
      };
    }
    case 'Condition':
      return {
        date: r.onsetDateTime ?? r.recordedDate,
        title: codeText(r.code) ?? 'Condition',
        detail: join(
          codeText(r.clinicalStatus),
          r.abatementDateTime && `resolved ${dateOnly(r.abatementDateTime)}`,
        ),
      };
    case 'MedicationRequest':
    case 'MedicationStatement':
      return {
        date: r.authoredOn ?? r.effectiveDateTime ?? r.effectivePeriod?.start,
        title: codeText(r.medicationCodeableConcept) ?? r.medicationReference?.display ?? 'Medication',
        detail: join(
          statusText(r.status),
          r.dosageInstruction?.[0]?.text ?? r.dosage?.[0]?.text,
          codeText(r.reasonCode?.[0]),
        ),
      };
    case 'AllergyIntolerance':
      return {
        date: r.recordedDate ?? r.onsetDateTime,
        title: codeText(r.code) ?? 'Allergy',
        detail: join(
          codeText(r.clinicalStatus),
          r.category?.[0],
          r.criticality && `criticality ${r.criticality}`,
          codeText(r.reaction?.[0]?.manifestation?.[0]),
        ),
      };
    case 'Observation':
      return {
        date: r.effectiveDateTime ?? r.effectivePeriod?.start ?? r.issued,
        title: codeText(r.code) ?? 'Observation',
        detail: observationValueText(r),
      };
    case 'DiagnosticReport':
      return {
        date: r.effectiveDateTime ?? r.effectivePeriod?.start ?? r.issued,
        title: codeText(r.code) ?? 'Report',
        detail: join(
          codeText(r.category?.[0]),
          r.result?.length ? `${r.result.length} result${r.result.length === 1 ? '' : 's'}` : undefined,
          r.conclusion,
          r.status !== 'final' && statusText(r.status),
        ),
      };
    case 'Immunization':
      return {
        date: r.occurrenceDateTime,
        title: codeText(r.vaccineCode) ?? 'Immunization',
        detail: r.status === 'completed' ? 'given' : statusText(r.status),
      };
    case 'Procedure':
      return {
        date: r.performedDateTime ?? r.performedPeriod?.start,
        title: codeText(r.code) ?? 'Procedure',
        detail: join(statusText(r.status), codeText(r.reasonCode?.[0])),
      };
    case 'CarePlan':
      return {
        date: r.period?.start ?? r.created,
        title:
          codeText(r.category?.find((c: Loose) => c.text || c.coding?.[0]?.code !== 'assess-plan')) ??
          r.title ??
          'Care plan',
        detail: join(
          statusText(r.status),
          (r.activity ?? [])
            .map((a: Loose) => codeText(a.detail?.code))
            .filter(Boolean)
            .slice(0, 3)
            .join(', '),
        ),
      };
    case 'Goal':
      return {
        date: r.startDate ?? r.statusDate ?? r.target?.[0]?.dueDate,
        title: codeText(r.description) ?? 'Goal',
        detail: join(statusText(r.lifecycleStatus), codeText(r.achievementStatus)),
      };
    case 'ImagingStudy': {
      const series = r.series?.[0];
      return {
        date: r.started,
        title:
          join(
            codeText(series?.bodySite) ?? 'Imaging',
            series?.modality?.display ?? series?.modality?.code,
          ) || 'Imaging',
        detail: join(
          r.numberOfSeries !== undefined && `${r.numberOfSeries} series`,
          r.numberOfInstances !== undefined && `${r.numberOfInstances} images`,
          statusText(r.status),
        ),
      };
    }
    case 'DocumentReference':
      return {
        date: r.date ?? r.context?.period?.start,
        title: codeText(r.type) ?? r.description ?? 'Document',
        detail: join(codeText(r.category?.[0]), r.author?.[0]?.display, r.custodian?.display),
      };
    case 'Claim':
      return {
        date: r.billablePeriod?.start ?? r.created,
        title: `Claim: ${codeText(r.item?.[0]?.productOrService) ?? codeText(r.type) ?? 'services'}`,
        detail: join(moneyText(r.total), r.provider?.display, statusText(r.status)),
      };
    case 'ExplanationOfBenefit': {
      const paid =
        r.payment?.amount ?? r.total?.find((t: Loose) => codeText(t.category) === 'benefit')?.amount;
      return {
        date: r.billablePeriod?.start ?? r.created,
        title: `Insurance: ${r.insurer?.display ?? codeText(r.type) ?? 'explanation of benefit'}`,
        detail: join(
          moneyText(r.total?.find((t: Loose) => codeText(t.category) === 'submitted')?.amount) &&
            `billed ${moneyText(r.total?.find((t: Loose) => codeText(t.category) === 'submitted')?.amount)}`,
          moneyText(paid) && `paid ${moneyText(paid)}`,
          r.outcome,
        ),
      };
    }
    case 'Device':
      return {
        date: r.manufactureDate,
        title: codeText(r.type) ?? r.deviceName?.[0]?.name ?? 'Device',
        detail: join(statusText(r.status), r.distinctIdentifier),
      };
    default:
      return { date: r.meta?.lastUpdated, title: codeText(r.code) ?? r.resourceType, detail: '' };
  }
}

/** Every renderable resource as a record, newest first. */
export function toRecords(resources: readonly Resource[]): RecordEntry[] {
  // Provenance.target -> the member that sent it (agent who, or entity what).
  const provenance = new Map<string, string>();
  for (const p of resources) {
    if (p.resourceType !== 'Provenance') continue;
    const who =
      p.agent?.find((a: Loose) => a.who?.display)?.who?.display ??
      p.entity?.[0]?.what?.display ??
      p.entity?.[0]?.what?.reference;
    for (const target of p.target ?? []) if (target.reference && who) provenance.set(target.reference, who);
  }
  const entries: RecordEntry[] = [];
  for (const r of resources) {
    const kind = KIND[r.resourceType];
    if (!kind || !r.id) continue;
    const key = `${r.resourceType}/${r.id}`;
    entries.push({
      key,
      version: `${key}/_history/${r.meta?.versionId ?? '1'}`,
      kind,
      resource: r,
      ...describe(r),
      encounter: r.encounter?.reference ?? r.context?.encounter?.[0]?.reference,
      source: r.meta?.source ?? provenance.get(key),
    });
  }
  return entries.sort((a, b) => (b.date ?? '').localeCompare(a.date ?? ''));
}

export { codeText, quantityText };

export function patientName(patient: Resource | undefined): string {
  const name = patient?.name?.[0];
  if (!name) return patient?.id ? `Patient ${patient.id}` : 'Patient';
  return name.text ?? [...(name.given ?? []), name.family].filter(Boolean).join(' ');
}

export const ADDRESS_SYSTEM = 'urn:medledger:address';

export function patientAddress(patient: Resource | undefined): string | undefined {
  return patient?.identifier?.find((i: Loose) => i.system === ADDRESS_SYSTEM)?.value?.toLowerCase();
}
