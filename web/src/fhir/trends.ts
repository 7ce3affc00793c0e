/**
 * Trends of the numeric results a person follows over time: one series per LOINC code (blood
 * pressure as systolic and diastolic), oldest first, each point the Observation's own value and
 * unit, with the reference range the series is read against.
 */
import { loincOf, unitText } from './present.ts';
import { codeText, type Loose, type RecordEntry } from './records.ts';
import { type ReferenceRange, referenceRangeOf } from './referenceRanges.ts';

export interface TrendPoint {
  /** Seconds since the epoch (uPlot's x scale). */
  time: number;
  value: number;
  /** `Observation/12`. */
  record: string;
}

export interface TrendLine {
  label: string;
  /** The UCUM code as sent (`mm[Hg]`) and its display text (mmHg). */
  unitCode: string;
  unit: string;
  points: TrendPoint[];
  range: ReferenceRange | undefined;
}

export interface Trend {
  /** LOINC code of the observation. */
  code: string;
  name: string;
  lines: TrendLine[];
}

const BP = '55284-4';
const BP_PARTS = [
  { code: '8480-6', label: 'Systolic' },
  { code: '8462-4', label: 'Diastolic' },
];

/** Every result code with at least `minPoints` numeric values, most measured first. */
export function trendsOf(records: readonly RecordEntry[], minPoints = 2): Trend[] {
  const byCode = new Map<string, RecordEntry[]>();
  for (const e of records) {
    if (e.kind !== 'Result' || !e.date) continue;
    const code = loincOf(e.resource.code);
    if (!code) continue;
    const numeric =
      typeof e.resource.valueQuantity?.value === 'number' || (code === BP && e.resource.component);
    if (!numeric) continue;
    byCode.set(code, [...(byCode.get(code) ?? []), e]);
  }
  const trends: Trend[] = [];
  for (const [code, entries] of byCode) {
    if (entries.length < minPoints) continue;
    const sorted = [...entries].sort((a, b) => (a.date ?? '').localeCompare(b.date ?? ''));
    const time = (e: RecordEntry) => Math.floor(Date.parse(e.date as string) / 1000);
    const lines: TrendLine[] =
      code === BP
        ? BP_PARTS.map(({ code: part, label }) => {
            const quantityOf = (e: RecordEntry): Loose =>
              e.resource.component?.find((c: Loose) => loincOf(c.code) === part)?.valueQuantity;
            const withValue = sorted.filter((e) => typeof quantityOf(e)?.value === 'number');
            const first = withValue[0] ? quantityOf(withValue[0]) : undefined;
            return {
              label,
              unitCode: first?.code ?? first?.unit ?? '',
              unit: unitText(first),
              points: withValue.map((e) => ({ time: time(e), value: quantityOf(e).value, record: e.key })),
              range: referenceRangeOf(undefined, first, part),
            };
          })
        : unitGroups(sorted).map((group) => {
            const q = group[0]?.resource.valueQuantity;
            return {
              label: codeText(group[0]?.resource.code) ?? code,
              unitCode: q?.code ?? q?.unit ?? '',
              unit: unitText(q),
              points: group.map((e) => ({
                time: time(e),
                value: e.resource.valueQuantity.value,
                record: e.key,
              })),
              range: referenceRangeOf(group[0]?.resource, q, code),
            };
          });
    trends.push({ code, name: codeText(sorted[0]?.resource.code) ?? code, lines });
  }
  return trends.sort((a, b) => count(b) - count(a) || a.name.localeCompare(b.name));
}

const count = (t: Trend) => Math.max(...t.lines.map((l) => l.points.length));

/** Values in different units are never drawn on one axis: the most common unit wins the chart. */
function unitGroups(entries: RecordEntry[]): RecordEntry[][] {
  const groups = new Map<string, RecordEntry[]>();
  for (const e of entries) {
    const q = e.resource.valueQuantity;
    const unit = q.code ?? q.unit ?? '';
    groups.set(unit, [...(groups.get(unit) ?? []), e]);
  }
  const largest = [...groups.values()].sort((a, b) => b.length - a.length)[0];
  return largest ? [largest] : [];
}
