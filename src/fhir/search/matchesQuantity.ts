/**
 * Quantity search (`value-quantity=gt5.4|http://unitsofmeasure.org|mg`), which @medplum/core's
 * in-memory matcher does not evaluate: prefixes eq (within the value's implicit precision),
 * ne, gt, lt, ge, le, ap (±10 %), and optional system and code. No unit conversion.
 * @see https://hl7.org/fhir/R4/search.html#quantity
 */
import { evalFhirPath, type Filter, getSearchParameter, Operator } from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';
import { parsedFhirPath } from '../parsedFhirPath.ts';

interface QuantityValue {
  value?: number;
  system?: string;
  code?: string;
  unit?: string;
}

export function isQuantityFilter(resourceType: string, filter: Filter): boolean {
  // `:missing` is about presence, not value: Medplum's matcher answers it.
  return (
    filter.operator !== Operator.MISSING && getSearchParameter(resourceType, filter.code)?.type === 'quantity'
  );
}

export function matchesQuantity(resource: Resource, filter: Filter): boolean {
  const param = getSearchParameter(resource.resourceType, filter.code);
  if (!param?.expression) return false;
  let values: QuantityValue[];
  try {
    values = evalFhirPath(parsedFhirPath(param.expression), resource) as QuantityValue[];
  } catch {
    return false;
  }
  return filter.value.split(',').some((alternative) => {
    const [number = '', system = '', code = ''] = alternative.split('|');
    const wanted = Number(number);
    if (number === '' || Number.isNaN(wanted)) return false;
    const decimals = number.includes('.') ? (number.split('.')[1]?.length ?? 0) : 0;
    const half = 0.5 * 10 ** -decimals;
    return values.some((q) => {
      if (typeof q?.value !== 'number') return false;
      if (system && q.system !== system) return false;
      if (code && q.code !== code && q.unit !== code) return false;
      const v = q.value;
      switch (filter.operator) {
        case 'eq':
          return v >= wanted - half && v < wanted + half;
        case 'ne':
          return !(v >= wanted - half && v < wanted + half);
        case 'gt':
          return v > wanted;
        case 'lt':
          return v < wanted;
        case 'ge':
          return v >= wanted;
        case 'le':
          return v <= wanted;
        case 'ap':
          return Math.abs(v - wanted) <= Math.abs(wanted) * 0.1;
        default:
          return false;
      }
    });
  });
}
