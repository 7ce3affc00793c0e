/**
 * The parameters of `Patient/{id}/$everything` (R4 patient-operation-everything) and the filter
 * they make:
 * - `start` / `end`: care dates, not record dates. A resource of a type the R4 `clinical-date`
 *   search parameter covers (Observation.effective, Encounter.period, Procedure.performed, ...) is
 *   kept when its clinical date overlaps [start, end] at the precision written (`2024` is the whole
 *   year); one with no clinical date is kept (nothing places it outside the range, and a
 *   clinician asking for a period must not lose an undated allergy). Types the parameter does not
 *   cover (Patient, MedicationRequest, ...) are kept, as HL7 leaves their dates to the server.
 * - `_since`: resources whose `meta.lastUpdated` is at or after the instant.
 * - `_type`: the resource types to return (comma-separated or repeated); the Patient is returned
 *   only when `Patient` is among them.
 * - `_count` (1 to 1000) with `_offset`: paging; the Bundle's `next` link carries both.
 * `remote=false` (local records only), `_format` and `_pretty` are answered elsewhere; anything else
 * is refused with 400 naming it.
 * @see https://hl7.org/fhir/R4/patient-operation-everything.html
 * @see https://hl7.org/fhir/R4/searchparameter-registry.html (clinical-date)
 */
import {
  badRequest,
  evalFhirPath,
  getSearchParameter,
  isResourceType,
  OperationOutcomeError,
} from '@medplum/core';
import type { Period, Resource } from '@medplum/fhirtypes';
import { dateBounds } from '../../audit/auditDateRange.ts';
import { parsedFhirPath } from '../parsedFhirPath.ts';

const ANSWERED = new Set([
  'start',
  'end',
  '_since',
  '_type',
  '_count',
  '_offset',
  'remote',
  '_format',
  '_pretty',
]);
const MAX_COUNT = 1000;

export interface EverythingParameters {
  /** Care dates: the resource's clinical date must overlap [from, to). */
  from?: number;
  to?: number;
  since?: number;
  types?: ReadonlySet<string>;
  count?: number;
  offset: number;
}

export function parseEverythingParameters(query: Record<string, unknown>): EverythingParameters {
  for (const name of Object.keys(query))
    if (!ANSWERED.has(name)) refuse(name, `${name} is not a parameter of $everything`, 'not-supported');
  const one = (name: string): string | undefined => {
    const value = query[name];
    return Array.isArray(value) ? (value[value.length - 1] as string) : (value as string | undefined);
  };
  const parameters: EverythingParameters = { offset: 0 };
  const start = one('start');
  if (start !== undefined) parameters.from = bounds(start, 'start')[0];
  const end = one('end');
  if (end !== undefined) parameters.to = bounds(end, 'end')[1];
  if (parameters.from !== undefined && parameters.to !== undefined && parameters.from >= parameters.to)
    refuse('end', 'end is before start');
  const since = one('_since');
  if (since !== undefined) {
    if (!/^\d{4}-\d{2}-\d{2}T/.test(since) || Number.isNaN(Date.parse(since)))
      refuse('_since', '_since must be an instant');
    parameters.since = Date.parse(since);
  }
  const type = query._type;
  if (type !== undefined) {
    const names = (Array.isArray(type) ? type : [type])
      .flatMap((v) => String(v).split(','))
      .map((v) => v.trim());
    for (const name of names) if (!isResourceType(name)) refuse('_type', `${name} is not a resource type`);
    parameters.types = new Set(names);
  }
  const count = one('_count');
  if (count !== undefined) {
    if (!/^\d+$/.test(count) || Number(count) < 1 || Number(count) > MAX_COUNT)
      refuse('_count', `_count must be a whole number from 1 to ${MAX_COUNT}`);
    parameters.count = Number(count);
  }
  const offset = one('_offset');
  if (offset !== undefined) {
    if (!/^\d+$/.test(offset)) refuse('_offset', '_offset must be a whole number');
    parameters.offset = Number(offset);
  }
  return parameters;
}

/** Whether a resource passes the type, `_since` and care-date filters. */
export function keptByEverything(parameters: EverythingParameters, resource: Resource): boolean {
  if (parameters.types && !parameters.types.has(resource.resourceType)) return false;
  if (parameters.since !== undefined) {
    const updated = resource.meta?.lastUpdated;
    if (!updated || Date.parse(updated) < parameters.since) return false;
  }
  if (parameters.from === undefined && parameters.to === undefined) return true;
  const clinicalDate = getSearchParameter(resource.resourceType, 'date');
  if (clinicalDate?.id !== 'clinical-date' || !clinicalDate.expression) return true;
  const periods = evalFhirPath(parsedFhirPath(clinicalDate.expression), resource)
    .map(periodOf)
    .filter((p): p is [number, number] => p !== undefined);
  if (periods.length === 0) return true;
  const from = parameters.from ?? Number.NEGATIVE_INFINITY;
  const to = parameters.to ?? Number.POSITIVE_INFINITY;
  return periods.some(([s, e]) => s < to && e > from);
}

/** A date, dateTime, instant or Period as a half-open interval of milliseconds, at its precision. */
function periodOf(value: unknown): [number, number] | undefined {
  const of = (text: string): [number, number] | undefined => {
    try {
      const [s, e] = dateBounds(text);
      return [s.getTime(), e.getTime()];
    } catch {
      return undefined;
    }
  };
  if (typeof value === 'string') return of(value);
  if (value && typeof value === 'object' && ('start' in value || 'end' in value)) {
    const period = value as Period;
    const start = period.start ? of(period.start)?.[0] : Number.NEGATIVE_INFINITY;
    const end = period.end ? of(period.end)?.[1] : Number.POSITIVE_INFINITY;
    if (start === undefined || end === undefined) return undefined;
    return [start, end];
  }
  return undefined;
}

function bounds(text: string, name: string): [number, number] {
  try {
    const [s, e] = dateBounds(text);
    return [s.getTime(), e.getTime()];
  } catch {
    return refuse(name, `${name} must be a FHIR date or instant`);
  }
}

function refuse(name: string, why: string, code = 'invalid'): never {
  const outcome = badRequest(why, name);
  if (outcome.issue?.[0]) outcome.issue[0].code = code as 'invalid';
  throw new OperationOutcomeError(outcome);
}
