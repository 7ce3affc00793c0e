/**
 * R4 integers are 32-bit signed (-2,147,483,648..2,147,483,647; positiveInt and unsignedInt
 * within that too), as the HL7 validator checks; Medplum's validator takes any whole number.
 * Decimals have no such limit in R4: a JSON number is exactly the R4 decimal pattern
 * (`-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`), the official example Observation-decimal
 * carries 1e18 and -1e245, and only a value JSON turns into Infinity is refused (by Medplum).
 * @see https://hl7.org/fhir/R4/datatypes.html#integer
 * @see https://hl7.org/fhir/R4/datatypes.html#decimal
 */
import type { OperationOutcomeIssue } from '@medplum/fhirtypes';
import { invalidIssue } from './ValidationIssue.ts';
import type { VisitedElement } from './walkElements.ts';

const INTEGER_TYPES = new Set(['integer', 'positiveInt', 'unsignedInt']);
const INT32 = 2 ** 31;

export function checkIntegers(visited: VisitedElement, issues: OperationOutcomeIssue[]): void {
  const { type, value, location } = visited;
  if (!INTEGER_TYPES.has(type) || typeof value !== 'number' || !Number.isInteger(value)) return;
  if (value >= INT32 || value < -INT32)
    issues.push(invalidIssue(location, `Integer ${value} is outside the 32-bit range R4 allows`));
}
