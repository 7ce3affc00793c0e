/**
 * Required bindings: a `code`, Coding or CodeableConcept bound with strength `required` must
 * carry a code from the bound ValueSet (Patient.gender "robot" is rejected). Only ValueSets that
 * expand locally are checked (see expandValueSet); a binding whose ValueSet does not expand
 * here (external code systems such as BCP-13 MIME types, BCP-47 languages, UCUM, or
 * filter-based ValueSets) is not enforced.
 * @see https://hl7.org/fhir/R4/terminologies.html#required
 */
import type { OperationOutcomeIssue } from '@medplum/fhirtypes';
import { expandValueSet, type ValueSetExpansion } from './expandValueSet.ts';
import { invalidIssue } from './ValidationIssue.ts';
import { isObject, type VisitedElement } from './walkElements.ts';

export function checkRequiredBinding(visited: VisitedElement, issues: OperationOutcomeIssue[]): void {
  const binding = visited.element?.binding;
  if (binding?.strength !== 'required' || !binding.valueSet) return;
  const { value, type, location } = visited;
  if (type !== 'code' && type !== 'Coding' && type !== 'CodeableConcept') return;
  const expansion = expandValueSet(binding.valueSet);
  if (!expansion) return;
  const valueSet = binding.valueSet.split('|')[0];
  if (type === 'code') {
    if (typeof value === 'string' && !expansion.codes.has(value))
      issues.push(
        invalidIssue(
          location,
          `Value "${value}" is not in the required value set ${valueSet}`,
          'code-invalid',
        ),
      );
    return;
  }
  const codings =
    type === 'Coding' ? [value] : isObject(value) && Array.isArray(value.coding) ? value.coding : [];
  const coded = codings.filter(
    (c): c is { system: string; code: string } =>
      isObject(c) && typeof c.system === 'string' && typeof c.code === 'string',
  );
  if (coded.length === 0 || coded.some((c) => inExpansion(expansion, c))) return;
  const shown = coded.map((c) => `${c.system}#${c.code}`).join(', ');
  issues.push(
    invalidIssue(location, `No code (${shown}) is in the required value set ${valueSet}`, 'code-invalid'),
  );
}

function inExpansion(expansion: ValueSetExpansion, coding: { system: string; code: string }): boolean {
  return expansion.codings.has(`${coding.system}|${coding.code}`);
}
