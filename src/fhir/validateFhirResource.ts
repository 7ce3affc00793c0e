/**
 * Validation of every write against the R4 definitions: @medplum/core's validator (structure,
 * cardinality, primitive formats, invariants) plus medledger's extra rules (validation/:
 * required bindings, per-1, attachment sizes, extension contexts, Bundle rules, empty values,
 * narrative XHTML, 32-bit integers; base64Binary as R4 writes it). Errors become
 * one 400 OperationOutcome whose issues carry the element path in `expression`.
 * @see https://hl7.org/fhir/R4/validation.html
 */
import { OperationOutcomeError, validateResource } from '@medplum/core';
import type { OperationOutcome, OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';
import { DEFAULT_VALIDATION_POLICY, type ValidationPolicy } from '../config/ValidationPolicy.ts';
import { loadFhirDefinitions } from './fhirDefinitions.ts';
import { outcome } from './toOperationOutcome.ts';
import { withCompactBase64 } from './validation/base64Binary.ts';
import { RESOURCE_ID } from './validation/checkResourceIds.ts';
import { checkWriteRules } from './validation/checkWriteRules.ts';

export type ValidateResourceForWriteResult =
  | { ok: true; resource: Resource }
  | { ok: false; outcome: OperationOutcome };

/** Throws a 400 OperationOutcomeError listing every error issue, unless the resource is valid. */
export function validateFhirResource(
  resource: unknown,
  policy: ValidationPolicy = DEFAULT_VALIDATION_POLICY,
): asserts resource is Resource {
  const result = validateResourceForWrite(resource, policy);
  if (!result.ok) throw new OperationOutcomeError(result.outcome);
}

/**
 * The same validation as every FHIR write, as a value: for callers that report per item
 * (`medledger import`, one NDJSON line at a time) rather than failing the request.
 */
export function validateResourceForWrite(
  resource: unknown,
  policy: ValidationPolicy = DEFAULT_VALIDATION_POLICY,
): ValidateResourceForWriteResult {
  loadFhirDefinitions();
  if (typeof resource !== 'object' || resource === null || Array.isArray(resource))
    return { ok: false, outcome: outcome(undefined, 'invalid', 'The body is not a FHIR resource') };
  const candidate = resource as { resourceType?: unknown; id?: unknown };
  if (typeof candidate.resourceType !== 'string' || candidate.resourceType === '')
    return { ok: false, outcome: outcome(undefined, 'invalid', 'Missing resourceType', ['resourceType']) };
  if (candidate.id !== undefined && (typeof candidate.id !== 'string' || !RESOURCE_ID.test(candidate.id)))
    return {
      ok: false,
      outcome: outcome(undefined, 'invalid', 'Invalid resource id', [`${candidate.resourceType}.id`]),
    };
  const issues: OperationOutcomeIssue[] = [];
  try {
    // base64Binary with R4's whitespace is checked without it (validation/base64Binary.ts).
    validateResource(withCompactBase64(resource) as Resource); // warnings pass; errors throw with every issue
  } catch (error) {
    if (!(error instanceof OperationOutcomeError)) throw error;
    issues.push(
      ...(error.outcome.issue ?? []).filter((i) => i.severity === 'error' || i.severity === 'fatal'),
    );
  }
  // An element Medplum already reported (an empty object in an array) is not reported twice.
  const reported = new Set(issues.flatMap((i) => i.expression ?? []));
  issues.push(
    ...checkWriteRules(resource, policy).filter(
      (i) =>
        !(i.expression?.[0] && reported.has(i.expression[0]) && /empty|content/.test(i.details?.text ?? '')),
    ),
  );
  if (issues.length === 0) return { ok: true, resource: resource as Resource };
  return { ok: false, outcome: { resourceType: 'OperationOutcome', issue: issues } };
}
