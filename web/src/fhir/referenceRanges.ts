/**
 * Reference ranges and high/low flags. The laboratory's own range (`Observation.referenceRange`)
 * and interpretation (`Observation.interpretation`) come first; when a result carries none (as
 * Synthea's never do) the portal shows a typical adult range for the most common tests, named as
 * such, so that "high" is never claimed without saying against what.
 * https://hl7.org/fhir/R4/observation-definitions.html#Observation.referenceRange
 */
import { loincOf } from './present.ts';
import type { Loose } from './records.ts';

export interface ReferenceRange {
  low?: number;
  high?: number;
  /** Where the range comes from: the laboratory, or the portal's typical adult range. */
  source: 'laboratory' | 'typical adult range';
  text: string;
}

export type Flag = 'high' | 'low' | 'normal' | 'abnormal';

/** Typical adult ranges (conventional US units) by LOINC code, as printed on common lab reports. */
const TYPICAL: Readonly<Record<string, { low?: number; high?: number; unit: string }>> = {
  '38483-4': { low: 0.6, high: 1.3, unit: 'mg/dL' }, // creatinine
  '2160-0': { low: 0.6, high: 1.3, unit: 'mg/dL' },
  '4548-4': { high: 5.7, unit: '%' }, // HbA1c (below 5.7 %)
  '2339-0': { low: 70, high: 99, unit: 'mg/dL' }, // glucose (fasting)
  '2345-7': { low: 70, high: 99, unit: 'mg/dL' },
  '6299-2': { low: 7, high: 20, unit: 'mg/dL' }, // urea nitrogen
  '2947-0': { low: 135, high: 145, unit: 'mmol/L' }, // sodium
  '2951-2': { low: 135, high: 145, unit: 'mmol/L' },
  '6298-4': { low: 3.5, high: 5.1, unit: 'mmol/L' }, // potassium
  '2823-3': { low: 3.5, high: 5.1, unit: 'mmol/L' },
  '2069-3': { low: 98, high: 107, unit: 'mmol/L' }, // chloride
  '20565-8': { low: 22, high: 29, unit: 'mmol/L' }, // carbon dioxide
  '49765-1': { low: 8.6, high: 10.3, unit: 'mg/dL' }, // calcium
  '2093-3': { high: 200, unit: 'mg/dL' }, // total cholesterol
  '2571-8': { high: 150, unit: 'mg/dL' }, // triglycerides
  '18262-6': { high: 100, unit: 'mg/dL' }, // LDL
  '2085-9': { low: 40, unit: 'mg/dL' }, // HDL
  '33914-3': { low: 60, unit: 'mL/min' }, // eGFR
  '2885-2': { low: 6.0, high: 8.3, unit: 'g/dL' }, // total protein
  '1751-7': { low: 3.5, high: 5.0, unit: 'g/dL' }, // albumin
  '1975-2': { low: 0.1, high: 1.2, unit: 'mg/dL' }, // bilirubin
  '6768-6': { low: 44, high: 147, unit: 'U/L' }, // alkaline phosphatase
  '1742-6': { low: 7, high: 56, unit: 'U/L' }, // ALT
  '1920-8': { low: 10, high: 40, unit: 'U/L' }, // AST
  '718-7': { low: 12, high: 17.5, unit: 'g/dL' }, // hemoglobin
  '4544-3': { low: 36, high: 50, unit: '%' }, // hematocrit
  '6690-2': { low: 4.5, high: 11, unit: '10*3/uL' }, // leukocytes
  '777-3': { low: 150, high: 450, unit: '10*3/uL' }, // platelets
  '8480-6': { high: 120, unit: 'mm[Hg]' }, // systolic (below 120)
  '8462-4': { high: 80, unit: 'mm[Hg]' }, // diastolic (below 80)
  '39156-5': { low: 18.5, high: 25, unit: 'kg/m2' }, // BMI
  '8867-4': { low: 60, high: 100, unit: '/min' }, // heart rate
};

const sameUnit = (a: string | undefined, b: string) =>
  (a ?? '').replace('beats/minute', '/min').toLowerCase() === b.toLowerCase();

function describeRange(low: number | undefined, high: number | undefined, unit: string): string {
  if (low !== undefined && high !== undefined) return `${low}–${high} ${unit}`.trim();
  if (high !== undefined) return `below ${high} ${unit}`.trim();
  return `${low} ${unit} or more`.trim();
}

/** The range a quantity is read against, or undefined when neither the lab nor the table gives one. */
export function referenceRangeOf(
  observation: Loose,
  quantity: Loose,
  code?: string,
): ReferenceRange | undefined {
  const lab = observation?.referenceRange?.[0];
  if (lab && (lab.low?.value !== undefined || lab.high?.value !== undefined || lab.text)) {
    const low = lab.low?.value as number | undefined;
    const high = lab.high?.value as number | undefined;
    const unit = lab.low?.unit ?? lab.high?.unit ?? quantity?.unit ?? '';
    return {
      ...(low === undefined ? {} : { low }),
      ...(high === undefined ? {} : { high }),
      source: 'laboratory',
      text: lab.text ?? describeRange(low, high, unit),
    };
  }
  const typical = TYPICAL[code ?? loincOf(observation?.code) ?? ''];
  if (!typical || !sameUnit(quantity?.code ?? quantity?.unit, typical.unit)) return undefined;
  return {
    ...(typical.low === undefined ? {} : { low: typical.low }),
    ...(typical.high === undefined ? {} : { high: typical.high }),
    source: 'typical adult range',
    text: describeRange(typical.low, typical.high, displayUnit(typical.unit)),
  };
}

const displayUnit = (unit: string) =>
  ({ 'mm[Hg]': 'mmHg', 'kg/m2': 'kg/m²', '10*3/uL': '×10³/µL', '/min': 'per min' })[unit] ?? unit;

/** v3 ObservationInterpretation codes: https://terminology.hl7.org/CodeSystem-v3-ObservationInterpretation.html */
const INTERPRETATION: Readonly<Record<string, Flag>> = {
  H: 'high',
  HH: 'high',
  HU: 'high',
  L: 'low',
  LL: 'low',
  LU: 'low',
  A: 'abnormal',
  AA: 'abnormal',
  N: 'normal',
};

/** High, low or normal: the lab's interpretation when given, else the value against the range. */
export function flagOf(
  observation: Loose,
  value: number | undefined,
  range: ReferenceRange | undefined,
): Flag | undefined {
  const coded = observation?.interpretation?.[0]?.coding?.[0]?.code as string | undefined;
  if (coded && INTERPRETATION[coded]) return INTERPRETATION[coded];
  if (value === undefined || !range) return undefined;
  if (range.high !== undefined && value > range.high) return 'high';
  if (range.low !== undefined && value < range.low) return 'low';
  return 'normal';
}
