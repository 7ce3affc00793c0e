/**
 * The portal's reading of FHIR for people, on Synthea records: values rounded to their
 * precision with UCUM display units, blood pressure as one reading, encounter classes in words,
 * results under their report with ranges and flags, trends whose points are the Observations'
 * own values and units.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sharedDataDir } from '../../src/fhir/testing/sharedData.ts';
import { summarize } from '../../web/src/fhir/clinicalSummary.ts';
import {
  encounterClassText,
  observationValueText,
  quantityText,
  unitText,
} from '../../web/src/fhir/present.ts';
import { type Resource, toRecords } from '../../web/src/fhir/records.ts';
import { trendsOf } from '../../web/src/fhir/trends.ts';

/** A Synthea bundle's resources with ids and references as a FHIR server would serve them. */
async function synthea(file: string): Promise<Resource[]> {
  const bundle = JSON.parse(await readFile(join(sharedDataDir('synthea'), file), 'utf8')) as {
    entry: { fullUrl: string; resource: Resource }[];
  };
  const ids = new Map(bundle.entry.map((e) => [e.fullUrl, `${e.resource.resourceType}/${e.resource.id}`]));
  const text = JSON.stringify(bundle.entry.map((e) => e.resource)).replace(/"urn:uuid:[0-9a-f-]+"/g, (urn) =>
    JSON.stringify(ids.get(JSON.parse(urn)) ?? JSON.parse(urn)),
  );
  return JSON.parse(text) as Resource[];
}

const EURA = 'Eura_Treutel_8a12e2bb-ecc5-43e9-8de2-bfd019911f7f.json';

describe('the clinical record in words', () => {
  it('rounds values to their precision and shows UCUM codes as display units', () => {
    const creatinine = {
      resourceType: 'Observation',
      code: { coding: [{ system: 'http://loinc.org', code: '38483-4', display: 'Creatinine' }] },
      valueQuantity: { value: 0.7610266102688434, unit: 'mg/dL', code: 'mg/dL' },
    };
    expect(observationValueText(creatinine)).toBe('0.76 mg/dL');
    expect(quantityText({ value: 3, unit: '{score}', code: '{score}' })).toBe('3 points');
    expect(quantityText({ value: 27.3456, unit: 'kg/m2', code: 'kg/m2' }, '39156-5')).toBe('27.3 kg/m²');
    expect(unitText({ unit: 'Cel', code: 'Cel' })).toBe('°C');
    expect(quantityText({ value: 1234.5678, unit: 'mg' })).toBe('1,235 mg');
    expect(quantityText({ value: 0.012345, unit: 'mg' })).toBe('0.0123 mg');
    const bp = {
      resourceType: 'Observation',
      code: { coding: [{ system: 'http://loinc.org', code: '55284-4' }] },
      component: [
        {
          code: { coding: [{ system: 'http://loinc.org', code: '8462-4' }] },
          valueQuantity: { value: 73.2, unit: 'mm[Hg]', code: 'mm[Hg]' },
        },
        {
          code: { coding: [{ system: 'http://loinc.org', code: '8480-6' }] },
          valueQuantity: { value: 112.9, unit: 'mm[Hg]', code: 'mm[Hg]' },
        },
      ],
    };
    expect(observationValueText(bp)).toBe('113/73 mmHg');
    expect(encounterClassText({ code: 'EMER' })).toBe('Emergency visit');
    expect(encounterClassText({ code: 'IMP' })).toBe('Hospital stay');
  });

  it('puts lab results under their report with ranges and high/low flags, and active problems first', async () => {
    const records = toRecords(await synthea(EURA));
    // Every rendered kind is a record people can read, never a bare count.
    const kinds = new Set(records.map((e) => e.kind));
    for (const kind of ['Care plan', 'Goal', 'Claim', 'Benefit', 'Allergy', 'Report'] as const)
      expect(kinds).toContain(kind);
    for (const e of records) {
      expect(e.title).not.toBe('');
      expect(e.detail).not.toMatch(/\d\.\d{4,}/); // no unrounded decimals
      expect(e.detail).not.toMatch(/mm\[Hg\]|\{score\}/);
    }
    const summary = summarize(records);
    expect(summary.allergies.length).toBe(1);
    expect(summary.problems.length).toBeGreaterThan(0);
    expect(summary.problems.every((e) => e.kind === 'Condition')).toBe(true);
    const panel = summary.reports.find((r) => r.entry.title === 'Basic Metabolic Panel');
    expect(panel?.results.map((r) => r.name)).toContain('Creatinine');
    const creatinine = panel?.results.find((r) => r.name === 'Creatinine');
    expect(creatinine?.range?.text).toBe('0.6–1.3 mg/dL');
    const value = Number(creatinine?.entry.resource.valueQuantity.value);
    expect(creatinine?.flag).toBe(value > 1.3 ? 'high' : value < 0.6 ? 'low' : 'normal');
    expect(summary.recentResults[0]?.value).toMatch(/^\d+\/\d+ mmHg$/);
  });

  it("draws each trend's points from the Observations' own values and units", async () => {
    const resources = await synthea(EURA);
    const trends = trendsOf(toRecords(resources));
    const hba1c = trends.find((t) => t.code === '4548-4');
    const observations = resources.filter(
      (r) =>
        r.resourceType === 'Observation' && r.code.coding.some((c: { code: string }) => c.code === '4548-4'),
    );
    expect(hba1c?.lines).toHaveLength(1);
    const line = hba1c!.lines[0]!;
    expect(line.unitCode).toBe('%');
    expect(line.points.map((p) => p.value).sort()).toEqual(
      observations.map((o) => o.valueQuantity.value).sort(),
    );
    expect(line.points.map((p) => p.time)).toEqual([...line.points.map((p) => p.time)].sort((a, b) => a - b));
    const bp = trends.find((t) => t.code === '55284-4');
    expect(bp?.lines.map((l) => [l.label, l.unit])).toEqual([
      ['Systolic', 'mmHg'],
      ['Diastolic', 'mmHg'],
    ]);
  });
});
