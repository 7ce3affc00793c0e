/**
 * A search that cannot be answered is refused, never answered "no results": a clinician who sees
 * an empty list where there are records is misled. Refused with 400 and an OperationOutcome
 * naming the parameter: an unknown resource type (404), a parameter the type does not define (a
 * typo, a chain `subject.name`, `_has`, `_filter`), a composite or special parameter, the `:text`
 * modifier, and a `_count` that is not a number.
 * @see https://hl7.org/fhir/R4/search.html#errors
 */
import {
  getSearchParameter,
  isResourceType,
  OperationOutcomeError,
  Operator,
  type SearchRequest,
} from '@medplum/core';
import type { OperationOutcome } from '@medplum/fhirtypes';

const UNSUPPORTED_TYPES = new Set(['composite', 'special']);

export function checkSearchRequest(request: SearchRequest): void {
  if (!isResourceType(request.resourceType))
    throw new OperationOutcomeError(
      outcome('not-found', `Unknown resource type ${request.resourceType}`, request.resourceType),
    );
  if (request.count !== undefined && request.count !== null && !Number.isFinite(request.count))
    throw new OperationOutcomeError(outcome('invalid', '_count must be a whole number', '_count'));
  for (const filter of request.filters ?? []) {
    const param = getSearchParameter(request.resourceType, filter.code);
    if (!param)
      throw new OperationOutcomeError(
        outcome(
          'not-supported',
          `Search parameter ${filter.code} is not supported for ${request.resourceType}` +
            (filter.code.includes('.') ? ' (chained parameters are not supported)' : ''),
          filter.code,
        ),
      );
    if (UNSUPPORTED_TYPES.has(param.type ?? ''))
      throw new OperationOutcomeError(
        outcome(
          'not-supported',
          `${param.type} search parameter ${filter.code} is not supported`,
          filter.code,
        ),
      );
    if (filter.operator === Operator.TEXT)
      throw new OperationOutcomeError(
        outcome('not-supported', `The :text modifier is not supported (${filter.code})`, filter.code),
      );
  }
}

function outcome(
  code: 'not-found' | 'not-supported' | 'invalid',
  text: string,
  expression: string,
): OperationOutcome {
  return {
    resourceType: 'OperationOutcome',
    ...(code === 'not-found' ? { id: 'not-found' } : {}),
    issue: [{ severity: 'error', code, details: { text }, expression: [expression] }],
  };
}
