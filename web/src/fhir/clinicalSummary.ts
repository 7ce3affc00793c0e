/**
 * What a clinician or patient looks at first: active problems, current medications, allergies,
 * the latest of the results people follow (blood pressure, weight, HbA1c, creatinine, ...), and
 * each lab report with its own results, read against their reference ranges.
 */

import { bloodPressureText, codeText, loincOf, observationValueText } from './present.ts';
import type { Loose, RecordEntry } from './records.ts';
import { type Flag, flagOf, type ReferenceRange, referenceRangeOf } from './referenceRanges.ts';

export interface ResultLine {
  entry: RecordEntry;
  name: string;
  value: string;
  range: ReferenceRange | undefined;
  flag: Flag | undefined;
}

export interface ReportWithResults {
  entry: RecordEntry;
  results: ResultLine[];
}

export interface ClinicalSummary {
  problems: RecordEntry[];
  /** Active conditions that are findings or situations rather than disorders. */
  findings: RecordEntry[];
  medications: RecordEntry[];
  allergies: RecordEntry[];
  recentResults: ResultLine[];
  reports: ReportWithResults[];
  visits: RecordEntry[];
}

/** The results a summary shows first when present, in this order (LOINC). */
const FOLLOWED = [
  '55284-4', // blood pressure
  '29463-7', // weight
  '39156-5', // BMI
  '4548-4', // HbA1c
  '38483-4', // creatinine
  '33914-3', // eGFR
  '2339-0', // glucose
  '2093-3', // cholesterol
  '18262-6', // LDL
  '8867-4', // heart rate
  '72514-3', // pain
];

const ACTIVE = new Set(['active', 'recurrence', 'relapse']);
const clinicalStatus = (r: Loose) => r.clinicalStatus?.coding?.[0]?.code as string | undefined;

/** A result line: value in words, range and flag (blood pressure flagged by its systolic/diastolic). */
export function resultLine(entry: RecordEntry): ResultLine {
  const r = entry.resource;
  const code = loincOf(r.code);
  let range = referenceRangeOf(r, r.valueQuantity, code);
  let flag = flagOf(r, r.valueQuantity?.value, range);
  if (bloodPressureText(r)) {
    const part = (loinc: string) => r.component?.find((c: Loose) => loincOf(c.code) === loinc);
    const flags = ['8480-6', '8462-4'].map((loinc) => {
      const c = part(loinc);
      return flagOf(c, c?.valueQuantity?.value, referenceRangeOf(c, c?.valueQuantity, loinc));
    });
    flag = flags.includes('high') ? 'high' : flags.includes('low') ? 'low' : flags[0];
    range = { high: 120, source: 'typical adult range', text: 'below 120/80 mmHg' };
  }
  return { entry, name: codeText(r.code) ?? 'Result', value: observationValueText(r), range, flag };
}

export function summarize(records: readonly RecordEntry[]): ClinicalSummary {
  const byKey = new Map(records.map((e) => [e.key, e]));
  const conditions = records.filter(
    (e) =>
      e.kind === 'Condition' && ACTIVE.has(clinicalStatus(e.resource) ?? '') && !e.resource.abatementDateTime,
  );
  const isFinding = (e: RecordEntry) => /\((finding|situation)\)$/.test(e.title);
  const latest = new Map<string, RecordEntry>();
  for (const e of records) {
    if (e.kind !== 'Result') continue;
    const code = loincOf(e.resource.code);
    if (code && FOLLOWED.includes(code) && !latest.has(code)) latest.set(code, e); // records are newest first
  }
  const reports = records
    .filter((e) => e.kind === 'Report')
    .map((entry) => ({
      entry,
      results: (entry.resource.result ?? [])
        .map((ref: Loose) => byKey.get(ref.reference))
        .filter((e: RecordEntry | undefined): e is RecordEntry => e !== undefined)
        .map(resultLine),
    }));
  return {
    problems: conditions.filter((e) => !isFinding(e)),
    findings: conditions.filter(isFinding),
    medications: records.filter((e) => e.kind === 'Medication' && e.resource.status === 'active'),
    allergies: records.filter(
      (e) => e.kind === 'Allergy' && (clinicalStatus(e.resource) ?? 'active') === 'active',
    ),
    recentResults: FOLLOWED.flatMap((code) => {
      const e = latest.get(code);
      return e ? [resultLine(e)] : [];
    }),
    reports,
    visits: records.filter((e) => e.kind === 'Visit'),
  };
}
