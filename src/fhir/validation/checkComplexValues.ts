/**
 * An element of a complex type (Identifier, HumanName, CodeableConcept, backbone elements) must
 * be a JSON object. Medplum's validator checks the properties of objects but lets a number,
 * string or boolean stand where an object belongs inside an array (`identifier: [1]`), which
 * would then be stored. Null is reported by Medplum already.
 * @see https://hl7.org/fhir/R4/json.html#complex
 */
import type { OperationOutcomeIssue } from '@medplum/fhirtypes';
import { invalidIssue } from './ValidationIssue.ts';
import type { VisitedElement } from './walkElements.ts';

export function checkComplexValues(visited: VisitedElement, issues: OperationOutcomeIssue[]): void {
  const { type, value } = visited;
  if (visited.element === undefined || value === undefined || value === null) return;
  if (type.charAt(0) === type.charAt(0).toLowerCase()) return; // a primitive type
  if (typeof value === 'object' && !Array.isArray(value)) return;
  issues.push(
    invalidIssue(visited.location, `Expected an object (${type}), got ${JSON.stringify(value)}`, 'structure'),
  );
}
