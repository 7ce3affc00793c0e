/**
 * Validation of every write against the R4 definitions with @medplum/core's validator.
 * Errors become a 400 OperationOutcome whose issues carry the element path in `expression`.
 * @see https://hl7.org/fhir/R4/validation.html
 */
import { OperationOutcomeError, validateResource } from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';
import { loadFhirDefinitions } from './fhirDefinitions.ts';
import { outcome } from './toOperationOutcome.ts';

const RESOURCE_ID = /^[A-Za-z0-9\-.]{1,64}$/;

export function validateFhirResource(resource: unknown): asserts resource is Resource {
  loadFhirDefinitions();
  if (typeof resource !== 'object' || resource === null || Array.isArray(resource)) {
    throw new OperationOutcomeError(outcome(undefined, 'invalid', 'The body is not a FHIR resource'));
  }
  const candidate = resource as { resourceType?: unknown; id?: unknown };
  if (typeof candidate.resourceType !== 'string' || candidate.resourceType === '') {
    throw new OperationOutcomeError(outcome(undefined, 'invalid', 'Missing resourceType', ['resourceType']));
  }
  if (candidate.id !== undefined && (typeof candidate.id !== 'string' || !RESOURCE_ID.test(candidate.id))) {
    throw new OperationOutcomeError(
      outcome(undefined, 'invalid', 'Invalid resource id', [`${candidate.resourceType}.id`]),
    );
  }
  // Throws an OperationOutcomeError (issues with expression paths) on any error; warnings pass.
  validateResource(resource as Resource);
}
