/**
 * The optional rules of a {@link ValidationPolicy}: unknown extensions and example URLs.
 * @see https://hl7.org/fhir/R4/extensibility.html#exchange
 * @see https://www.rfc-editor.org/rfc/rfc2606 (reserved example domains)
 */
import type { OperationOutcomeIssue } from '@medplum/fhirtypes';
import type { ValidationPolicy } from '../../config/ValidationPolicy.ts';
import { isKnownExtension } from './checkExtensionContext.ts';
import { invalidIssue } from './ValidationIssue.ts';
import { isObject, type VisitedElement } from './walkElements.ts';

const URL_TYPES = new Set(['uri', 'url', 'canonical']);
const EXAMPLE_HOST =
  /^[a-z][a-z0-9+.-]*:\/\/([^/?#@]+@)?([^/?#:]+\.)?example\.(org|com|net)(:\d+)?([/?#]|$)/i;

export function isExampleUrl(value: string): boolean {
  return EXAMPLE_HOST.test(value);
}

export function checkPolicyRules(
  visited: VisitedElement,
  issues: OperationOutcomeIssue[],
  policy: ValidationPolicy,
): void {
  if (policy.exampleUrls === 'reject' && URL_TYPES.has(visited.type) && typeof visited.value === 'string') {
    if (isExampleUrl(visited.value))
      issues.push(
        invalidIssue(
          visited.location,
          `Example URLs are not allowed (${visited.value}): this node rejects the reserved example domains (MEDLEDGER_EXAMPLE_URLS=reject)`,
        ),
      );
  }
  visited.extensions.forEach((extension, i) => {
    if (!isObject(extension) || typeof extension.url !== 'string') return;
    const at = `${visited.location}.extension[${i}]`;
    if (policy.exampleUrls === 'reject' && isExampleUrl(extension.url)) {
      issues.push(
        invalidIssue(
          at,
          `Example URLs are not allowed (${extension.url}): this node rejects the reserved example domains (MEDLEDGER_EXAMPLE_URLS=reject)`,
        ),
      );
    } else if (policy.unknownExtensions === 'reject' && !isKnownExtension(extension.url)) {
      issues.push(
        invalidIssue(
          at,
          `The extension ${extension.url} is not defined by FHIR R4, so it is not allowed here (MEDLEDGER_UNKNOWN_EXTENSIONS=reject)`,
        ),
      );
    }
  });
}
