/**
 * FHIR JSON has no empty values: an array, an object or a string that is present must hold
 * something (json.html: "empty arrays, objects and strings are not allowed"; the string pattern
 * is `[ \r\n\t\S]+`). The HL7 validator reports each ("Array cannot be empty", "Object must have
 * some content", "@value cannot be empty"); Medplum's validator lets `"name": []`,
 * `"maritalStatus": {}` and `"family": ""` through, and they would be stored as sent. A `null`
 * inside a primitive's `_name` array (aligning extensions with values) is R4 JSON and allowed.
 * @see https://hl7.org/fhir/R4/json.html
 * @see https://hl7.org/fhir/R4/datatypes.html#string
 */
import type { OperationOutcomeIssue } from '@medplum/fhirtypes';
import { invalidIssue } from './ValidationIssue.ts';

/** Every empty array, object or string in the resource, each named by its path. */
export function checkEmptyValues(resource: unknown, issues: OperationOutcomeIssue[]): void {
  if (resource === null || typeof resource !== 'object' || Array.isArray(resource)) return;
  const root = (resource as { resourceType?: unknown }).resourceType;
  visit(resource, typeof root === 'string' && root ? root : 'Resource', issues);
}

function visit(value: unknown, location: string, issues: OperationOutcomeIssue[]): void {
  if (value === '') {
    issues.push(invalidIssue(location, 'A string cannot be empty: leave the element out instead'));
  } else if (Array.isArray(value)) {
    if (value.length === 0)
      issues.push(invalidIssue(location, 'An array cannot be empty: leave the element out instead'));
    value.forEach((item, i) => {
      visit(item, `${location}[${i}]`, issues);
    });
  } else if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value);
    if (entries.length === 0)
      issues.push(invalidIssue(location, 'An object must have some content: leave the element out instead'));
    for (const [key, item] of entries) visit(item, `${location}.${key}`, issues);
  }
}
