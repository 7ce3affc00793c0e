/**
 * Attachment.size, when stated beside inline data, must be the number of bytes of that data
 * ("Number of bytes of content (if url provided)"; a wrong size misleads every consumer that
 * trusts it, and the HL7 validator reports it as an error).
 * @see https://hl7.org/fhir/R4/datatypes.html#Attachment
 */
import type { OperationOutcomeIssue } from '@medplum/fhirtypes';
import { compactBase64 } from './base64Binary.ts';
import { invalidIssue } from './ValidationIssue.ts';
import { isObject, type VisitedElement } from './walkElements.ts';

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

export function checkAttachmentSize(visited: VisitedElement, issues: OperationOutcomeIssue[]): void {
  if (visited.type !== 'Attachment' || !isObject(visited.value)) return;
  const { size } = visited.value;
  const data = typeof visited.value.data === 'string' ? compactBase64(visited.value.data) : undefined;
  if (data === undefined || typeof size !== 'number' || !BASE64.test(data)) return;
  const actual = Buffer.byteLength(data, 'base64');
  if (actual === size) return;
  issues.push(
    invalidIssue(
      `${visited.location}.size`,
      `Stated attachment size ${size} does not match the size of its data (${actual} bytes)`,
    ),
  );
}
