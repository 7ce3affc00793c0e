/**
 * The CapabilityStatement states exactly what search answers: every parameter it lists for a
 * type is accepted with each modifier and prefix its documentation names, and every R4
 * parameter, modifier or prefix it leaves out is refused (checkSearchRequest, the function every
 * search goes through). Checked for every resource type, without a node.
 */
import { getResourceTypes, getSearchParameters, Operator, parseSearchRequest } from '@medplum/core';
import type { ResourceType } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { searchParamsOf } from './capabilityStatement.ts';
import { loadFhirDefinitions } from './fhirDefinitions.ts';
import { checkRawSearchParameters, checkSearchRequest } from './search/checkSearchRequest.ts';

const VALUE: Record<string, string> = {
  string: 'x',
  token: 'x',
  reference: 'Patient/1',
  uri: 'http://example.org/x',
  date: '2020-01-01',
  quantity: '5',
  number: '5',
  composite: 'x$y',
  special: 'x',
};
const MODIFIERS = [
  'exact',
  'contains',
  'text',
  'not',
  'above',
  'below',
  'in',
  'not-in',
  'of-type',
  'missing',
  'identifier',
];
const PREFIXES = ['eq', 'ne', 'gt', 'lt', 'ge', 'le', 'sa', 'eb', 'ap'];

function accepted(type: string, key: string, value: string): boolean {
  try {
    // The two checks every search goes through: the raw parameters at the edge, then the parsed request.
    const raw = checkRawSearchParameters(type, [[key, value]], 'strict');
    checkSearchRequest(parseSearchRequest(type as ResourceType, Object.fromEntries(raw.params)));
    return true;
  } catch {
    return false;
  }
}

describe('the CapabilityStatement states exactly the search parameters, modifiers and prefixes answered', () => {
  loadFhirDefinitions();
  const types = getResourceTypes().filter((t) => getSearchParameters(t));

  it('lists a parameter exactly when a search accepts it, for every type', () => {
    const wrong: string[] = [];
    for (const type of types) {
      const listed = new Set(searchParamsOf(type).map((p) => p.name));
      for (const param of Object.values(getSearchParameters(type) ?? {})) {
        const code = param.code as string;
        const ok = accepted(type, code, VALUE[param.type as string] ?? 'x');
        if (ok !== listed.has(code))
          wrong.push(`${type}.${code} (${param.type}): listed ${listed.has(code)}, accepted ${ok}`);
      }
    }
    expect(wrong).toEqual([]);
    expect(searchParamsOf('Observation').map((p) => p.name)).toEqual(
      expect.arrayContaining(['code', 'subject', 'date']),
    );
    expect(searchParamsOf('RiskAssessment').map((p) => p.name)).not.toContain('probability'); // number: refused
  });

  it('names exactly the modifiers and prefixes a search accepts', () => {
    const wrong: string[] = [];
    for (const type of ['Observation', 'Patient', 'Condition', 'Encounter', 'DocumentReference']) {
      for (const param of searchParamsOf(type)) {
        const doc = param.documentation ?? '';
        const value = VALUE[param.type] ?? 'x';
        for (const modifier of MODIFIERS) {
          const key = `${param.name}:${modifier}`;
          const ok = accepted(type, key, modifier === 'missing' ? 'true' : value);
          if (ok !== doc.includes(`:${modifier}`))
            wrong.push(`${type}?${key}: documented ${!ok}, accepted ${ok}`);
        }
        if (param.type !== 'date' && param.type !== 'quantity') continue;
        for (const prefix of PREFIXES) {
          const ok = accepted(type, param.name, `${prefix}${value}`);
          const documented = new RegExp(`prefixes: [^;]*\\b${prefix}\\b`).test(doc);
          if (ok !== documented)
            wrong.push(`${type}?${param.name}=${prefix}: documented ${documented}, accepted ${ok}`);
        }
      }
    }
    expect(wrong).toEqual([]);
    expect(Operator.NOT).toBe('not');
  });
});
