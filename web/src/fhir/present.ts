/**
 * FHIR values as people read them: UCUM unit codes as display text (`mm[Hg]` → mmHg,
 * `{score}` → points), quantities rounded to the precision they are measured to, blood pressure
 * as one reading (113/73 mmHg), codes by their display, encounter classes in words.
 * See https://ucum.org/ucum (unit syntax) and https://hl7.org/fhir/R4/datatypes.html#Quantity.
 */

/** FHIR JSON, read defensively field by field (records.ts re-exports it). */
// biome-ignore lint/suspicious/noExplicitAny: the one loose type of the portal's FHIR reading
export type Loose = any;

/** UCUM codes whose display differs from the code. Annotations (`{…}`) are words, not units. */
const UCUM_DISPLAY: Readonly<Record<string, string>> = {
  'mm[Hg]': 'mmHg',
  'kg/m2': 'kg/m²',
  Cel: '°C',
  C: '°C',
  '[degF]': '°F',
  '10*3/uL': '×10³/µL',
  '10*6/uL': '×10⁶/µL',
  '10*9/L': '×10⁹/L',
  '10*12/L': '×10¹²/L',
  ug: 'µg',
  'ug/dL': 'µg/dL',
  'ug/L': 'µg/L',
  'mL/min/{1.73_m2}': 'mL/min/1.73 m²',
  'beats/minute': 'beats/min',
  '/min': 'per min',
  '{beats}/min': 'beats/min',
  '{breaths}/min': 'breaths/min',
  '[lb_av]': 'lb',
  '[in_i]': 'in',
  '{score}': 'points',
  '(score)': 'points',
  '{T-score}': '(T-score)',
  '{count}': '',
  '{#}': '',
  '1': '',
  units: 'units',
};

/** The unit as display text: the UCUM code's display when known, else the sender's unit text. */
export function unitText(q: Loose): string {
  const code: string | undefined = q?.code ?? q?.unit;
  if (code !== undefined && code in UCUM_DISPLAY) return UCUM_DISPLAY[code] ?? '';
  const unit: string | undefined = q?.unit ?? q?.code;
  if (!unit) return '';
  return unit.replace(/\{[^}]*\}/g, '').trim();
}

/**
 * Decimal places a value of this kind is measured to, by LOINC code: lab analysers report
 * creatinine to 0.01 mg/dL, HbA1c to 0.1 %, sodium to 1 mmol/L. Unknown codes keep three
 * significant digits (1,235 mg; 0.0123 mg), never more than four decimals.
 */
const DECIMALS: Readonly<Record<string, number>> = {
  '38483-4': 2, // creatinine
  '2160-0': 2,
  '4548-4': 1, // HbA1c
  '2339-0': 0, // glucose
  '2345-7': 0,
  '6299-2': 0, // urea nitrogen
  '2947-0': 0, // sodium
  '2951-2': 0,
  '6298-4': 1, // potassium
  '2823-3': 1,
  '2069-3': 0, // chloride
  '20565-8': 0, // CO2
  '49765-1': 1, // calcium
  '2093-3': 0, // cholesterol
  '2571-8': 0, // triglycerides
  '18262-6': 0, // LDL
  '2085-9': 0, // HDL
  '8302-2': 1, // body height
  '29463-7': 1, // body weight
  '39156-5': 1, // BMI
  '8480-6': 0, // systolic
  '8462-4': 0, // diastolic
  '8867-4': 0, // heart rate
  '9279-1': 0, // respiratory rate
  '8310-5': 1, // body temperature
  '8331-1': 1,
  '72514-3': 0, // pain score
  '33914-3': 0, // eGFR
  '718-7': 1, // hemoglobin
  '4544-3': 1, // hematocrit
  '777-3': 0, // platelets
};

export function roundTo(value: number, code: string | undefined): string {
  const decimals =
    (code ? DECIMALS[code] : undefined) ??
    (Number.isInteger(value)
      ? 0
      : Math.min(4, Math.max(0, 2 - Math.floor(Math.log10(Math.abs(value) || 1)))));
  return value.toLocaleString('en-US', { maximumFractionDigits: decimals, minimumFractionDigits: 0 });
}

export const loincOf = (cc: Loose): string | undefined =>
  cc?.coding?.find((c: Loose) => c.system === 'http://loinc.org')?.code ?? cc?.coding?.[0]?.code;

/** A Quantity as text: "0.76 mg/dL", "113 mmHg", "7 points". */
export function quantityText(q: Loose, code?: string): string | undefined {
  if (typeof q?.value !== 'number') return undefined;
  const unit = unitText(q);
  const comparator = q.comparator ?? '';
  const value = `${comparator}${roundTo(q.value, code)}`;
  return unit ? `${value} ${unit}` : value;
}

/** A CodeableConcept by its text or first display; a bare code only when nothing else is given. */
export const codeText = (cc: Loose): string | undefined =>
  cc?.text ?? cc?.coding?.find((c: Loose) => c.display)?.display ?? cc?.coding?.[0]?.code;

const SYSTOLIC = '8480-6';
const DIASTOLIC = '8462-4';

/** Blood pressure's two components as one reading, or undefined for any other observation. */
export function bloodPressureText(r: Loose): string | undefined {
  const part = (loinc: string) => r.component?.find((c: Loose) => loincOf(c.code) === loinc)?.valueQuantity;
  const sys = part(SYSTOLIC);
  const dia = part(DIASTOLIC);
  if (typeof sys?.value !== 'number' || typeof dia?.value !== 'number') return undefined;
  return `${Math.round(sys.value)}/${Math.round(dia.value)} ${unitText(sys) || 'mmHg'}`;
}

/** An Observation's value in words: its quantity, coded answer, text, or its components. */
export function observationValueText(r: Loose): string {
  const code = loincOf(r.code);
  const direct =
    quantityText(r.valueQuantity, code) ??
    codeText(r.valueCodeableConcept) ??
    (r.valueString as string | undefined) ??
    (typeof r.valueInteger === 'number' ? String(r.valueInteger) : undefined) ??
    (r.valueBoolean === undefined ? undefined : r.valueBoolean ? 'yes' : 'no');
  if (direct) return direct;
  const bp = bloodPressureText(r);
  if (bp) return bp;
  return (r.component ?? [])
    .map(
      (c: Loose) =>
        `${codeText(c.code)}: ${quantityText(c.valueQuantity, loincOf(c.code)) ?? codeText(c.valueCodeableConcept) ?? '—'}`,
    )
    .join('; ');
}

/** v3 ActCode encounter classes: https://terminology.hl7.org/ValueSet-v3-ActEncounterCode.html */
const ENCOUNTER_CLASS: Readonly<Record<string, string>> = {
  AMB: 'Outpatient visit',
  EMER: 'Emergency visit',
  IMP: 'Hospital stay',
  ACUTE: 'Hospital stay',
  NONAC: 'Hospital stay',
  OBSENC: 'Observation stay',
  PRENC: 'Pre-admission',
  SS: 'Short stay',
  HH: 'Home health visit',
  FLD: 'Field visit',
  VR: 'Virtual visit',
};

export const encounterClassText = (coding: Loose): string | undefined =>
  (coding?.code && ENCOUNTER_CLASS[coding.code]) ?? coding?.display ?? coding?.code;

/** Money as "$1,234.56" (or the currency code when not USD). */
export function moneyText(m: Loose): string | undefined {
  if (typeof m?.value !== 'number') return undefined;
  try {
    return m.value.toLocaleString('en-US', { style: 'currency', currency: m.currency ?? 'USD' });
  } catch {
    return `${m.value.toFixed(2)} ${m.currency ?? ''}`.trim();
  }
}

/** A FHIR status code in words ("entered-in-error" → "entered in error"). */
export const statusText = (status: string | undefined): string => (status ?? '').replace(/-/g, ' ');
