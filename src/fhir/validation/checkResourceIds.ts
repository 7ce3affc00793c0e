/**
 * Every resource id follows R4's id pattern `[A-Za-z0-9\-\.]{1,64}`: the contained and nested
 * ones too (Bundle entries, Parameters), not only the top-level id the write path checks. The
 * HL7 validator reports "Invalid Resource id" for `org_1` or a 65-character contained id; a
 * contained id that breaks the pattern also breaks every `#id` reference to it.
 * @see https://hl7.org/fhir/R4/datatypes.html#id
 * @see https://hl7.org/fhir/R4/resource.html#id
 */
import type { OperationOutcomeIssue } from '@medplum/fhirtypes';
import { invalidIssue } from './ValidationIssue.ts';
import { isObject, type VisitedElement } from './walkElements.ts';

export const RESOURCE_ID = /^[A-Za-z0-9\-.]{1,64}$/;

export function checkResourceIds(visited: VisitedElement, issues: OperationOutcomeIssue[]): void {
  // A resource root (top-level, contained or nested) is visited with no element definition.
  if (visited.element !== undefined || !isObject(visited.value)) return;
  const id = visited.value.id;
  if (id === undefined || (typeof id === 'string' && RESOURCE_ID.test(id))) return;
  const why =
    typeof id !== 'string'
      ? 'not a string'
      : id.length > 64
        ? `too long (${id.length} characters)`
        : `invalid characters ('${id}')`;
  issues.push(
    invalidIssue(`${visited.location}.id`, `Invalid resource id: ${why}; R4 ids are [A-Za-z0-9-.]{1,64}`),
  );
}
