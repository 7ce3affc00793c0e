/**
 * The issues the extra validation checks report: error-level OperationOutcome issues with the
 * element path in `expression`, the shape Medplum's validator uses.
 * @see https://hl7.org/fhir/R4/operationoutcome.html
 */
import type { OperationOutcomeIssue } from '@medplum/fhirtypes';

export function invalidIssue(
  location: string,
  text: string,
  code: OperationOutcomeIssue['code'] = 'invalid',
) {
  return {
    severity: 'error',
    code,
    details: { text },
    expression: [location],
  } satisfies OperationOutcomeIssue;
}
