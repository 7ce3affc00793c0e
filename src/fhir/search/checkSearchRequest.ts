/**
 * A search that cannot be answered is refused, never answered "no results": a clinician who sees
 * an empty list where there are records is misled. Refused with 400 and an OperationOutcome
 * naming the parameter: a parameter the type does not define (a typo, a chain `subject.name`,
 * `_has`, `_filter`), a composite or special parameter, a modifier this server does not
 * implement for the parameter's type (supportedModifiers.ts), a `_sort` on an unknown parameter,
 * an `_elements` name the type does not have. An unknown resource type is 404 and a `_count`
 * that is not a number 400, whatever the handling.
 *
 * `Prefer: handling=lenient` (R4 search.html#errors) drops the parameters it cannot answer
 * instead: the search runs without them, its links leave them out, and the Bundle carries an
 * OperationOutcome entry saying what was ignored. Strict is the default, as refusing is safer.
 * @see https://hl7.org/fhir/R4/search.html#errors
 */
import {
  getSearchParameter,
  isResourceType,
  OperationOutcomeError,
  Operator,
  type SearchRequest,
} from '@medplum/core';
import type { OperationOutcome, OperationOutcomeIssue } from '@medplum/fhirtypes';
import { unknownElementNames } from '../subsetResource.ts';
import { modifierOf, SUPPORTED_OPERATORS, supportsOperator } from './supportedModifiers.ts';

export type SearchHandling = 'strict' | 'lenient';

export interface CheckedSearchRequest {
  /** The request to answer: without what was ignored (lenient), else as given. */
  request: SearchRequest;
  /** Warnings naming each parameter left out (lenient only). */
  ignored: OperationOutcomeIssue[];
}

/** Throws a 4xx OperationOutcomeError for what cannot be answered (strict), or leaves it out (lenient). */
export function checkSearchRequest(
  request: SearchRequest,
  handling: SearchHandling = 'strict',
  alreadyIgnored: readonly OperationOutcomeIssue[] = [],
): CheckedSearchRequest {
  if (!isResourceType(request.resourceType))
    throw new OperationOutcomeError(
      outcome('not-found', `Unknown resource type ${request.resourceType}`, request.resourceType),
    );
  if (request.count !== undefined && request.count !== null && !Number.isFinite(request.count))
    throw new OperationOutcomeError(outcome('invalid', '_count must be a whole number', '_count'));
  const ignored: OperationOutcomeIssue[] = [...alreadyIgnored];
  const refuse = (text: string, expression: string): false => {
    if (handling === 'strict') throw new OperationOutcomeError(outcome('not-supported', text, expression));
    ignored.push({
      severity: 'warning',
      code: 'not-supported',
      details: { text: `${text}: ignored (Prefer: handling=lenient)` },
      expression: [expression],
    });
    return false;
  };
  const filters = (request.filters ?? []).filter((filter) => {
    const param = getSearchParameter(request.resourceType, filter.code);
    const name = `${filter.code}${modifierOf(filter.operator)}`;
    if (!param)
      return refuse(
        `Search parameter ${filter.code} is not supported for ${request.resourceType}` +
          (filter.code.includes('.') ? ' (chained parameters are not supported)' : ''),
        filter.code,
      );
    if (filter.operator === Operator.MISSING && filter.value !== 'true' && filter.value !== 'false')
      throw new OperationOutcomeError(
        outcome('invalid', `${filter.code}:missing takes true or false, not "${filter.value}"`, filter.code),
      );
    const type = param.type ?? '';
    if (!SUPPORTED_OPERATORS[type])
      return refuse(`${type} search parameter ${filter.code} is not supported`, filter.code);
    if (!supportsOperator(type, filter.operator))
      return refuse(
        modifierOf(filter.operator)
          ? `The ${modifierOf(filter.operator)} modifier is not supported for ${type} parameters (${name})`
          : `The ${filter.operator} prefix is not supported for ${type} parameters (${filter.code})`,
        filter.code,
      );
    return true;
  });
  const sortRules = (request.sortRules ?? []).filter(
    (rule) =>
      rule.code === '_id' ||
      rule.code === '_lastUpdated' ||
      getSearchParameter(request.resourceType, rule.code) !== undefined ||
      refuse(`_sort: ${rule.code} is not a search parameter of ${request.resourceType}`, '_sort'),
  );
  const unknown = new Set(request.fields ? unknownElementNames(request.resourceType, request.fields) : []);
  for (const name of unknown)
    refuse(`_elements: ${request.resourceType} has no element ${name}`, '_elements');
  const fields = request.fields?.filter((f) => !unknown.has(f));
  return {
    request: {
      ...request,
      filters,
      ...(request.sortRules ? { sortRules } : {}),
      ...(fields ? { fields } : {}),
    },
    ignored,
  };
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

/**
 * The modifiers Medplum's parser does not carry into the filter, checked on the raw parameters
 * before it sees them: on a date, quantity or number parameter it drops any modifier but
 * `:missing` (`date:above=2020` would silently search `date=2020`), and on a reference it drops
 * a type (`subject:Patient=1`), which is rewritten here to `subject=Patient/1` as R4 defines it.
 * @see https://hl7.org/fhir/R4/search.html#reference
 */
export function checkRawSearchParameters(
  resourceType: string,
  params: readonly [string, string][],
  handling: SearchHandling,
): { params: [string, string][]; ignored: OperationOutcomeIssue[] } {
  const ignored: OperationOutcomeIssue[] = [];
  const kept: [string, string][] = [];
  for (const [key, value] of params) {
    const [code = '', modifier, ...rest] = key.split(':');
    const param = modifier === undefined ? undefined : getSearchParameter(resourceType, code);
    if (!param || modifier === undefined || rest.length > 0) {
      kept.push([key, value]);
      continue;
    }
    if (param.type === 'reference' && isResourceType(modifier)) {
      const values = value.split(',').map((v) => (v.includes('/') ? v : `${modifier}/${v}`));
      kept.push([code, values.join(',')]);
      continue;
    }
    const dropped = ['date', 'quantity', 'number'].includes(param.type ?? '') && modifier !== 'missing';
    if (!dropped) {
      kept.push([key, value]);
      continue;
    }
    const text = `The :${modifier} modifier is not supported for ${param.type} parameters (${key})`;
    if (handling === 'strict') throw new OperationOutcomeError(outcome('not-supported', text, code));
    ignored.push({
      severity: 'warning',
      code: 'not-supported',
      details: { text: `${text}: ignored (Prefer: handling=lenient)` },
      expression: [code],
    });
  }
  return { params: kept, ignored };
}
