/**
 * The checks medledger makes on every write beside @medplum/core's validateResource (which
 * covers structure, cardinality, primitive formats and most invariants): required bindings,
 * per-1 with FHIRPath date semantics, attachment sizes, extension contexts, Bundle rules, empty
 * values, narrative XHTML, 32-bit integers and the ids of nested resources.
 * One schema-aware walk feeds all of them; ValueSet expansions and extension contexts are
 * loaded once and kept.
 * @see https://hl7.org/fhir/R4/validation.html
 */
import type { OperationOutcomeIssue } from '@medplum/fhirtypes';
import { DEFAULT_VALIDATION_POLICY, type ValidationPolicy } from '../../config/ValidationPolicy.ts';
import { checkAttachmentSize } from './checkAttachmentSize.ts';
import { checkBundleRules } from './checkBundleRules.ts';
import { checkComplexValues } from './checkComplexValues.ts';
import { checkEmptyValues } from './checkEmptyValues.ts';
import { checkExtensionContext } from './checkExtensionContext.ts';
import { checkIntegers } from './checkIntegers.ts';
import { checkNarrative } from './checkNarrative.ts';
import { checkPeriodOrder } from './checkPeriodOrder.ts';
import { checkPolicyRules } from './checkPolicyRules.ts';
import { checkRequiredBinding } from './checkRequiredBindings.ts';
import { checkResourceIds } from './checkResourceIds.ts';
import { walkElements } from './walkElements.ts';

const CHECKS = [
  checkComplexValues,
  checkRequiredBinding,
  checkPeriodOrder,
  checkAttachmentSize,
  checkExtensionContext,
  checkBundleRules,
  checkNarrative,
  checkIntegers,
  checkResourceIds,
];

/** The error issues of a resource under medledger's extra rules (empty when it passes). */
export function checkWriteRules(
  resource: unknown,
  policy: ValidationPolicy = DEFAULT_VALIDATION_POLICY,
): OperationOutcomeIssue[] {
  const issues: OperationOutcomeIssue[] = [];
  checkEmptyValues(resource, issues);
  const strict = policy.unknownExtensions === 'reject' || policy.exampleUrls === 'reject';
  walkElements(resource, (visited) => {
    for (const check of CHECKS) check(visited, issues);
    if (strict) checkPolicyRules(visited, issues, policy);
  });
  return issues;
}
