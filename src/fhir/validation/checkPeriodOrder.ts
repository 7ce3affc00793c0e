/**
 * Invariant per-1 on every Period: "If present, start SHALL have a lower value than end",
 * evaluated with FHIRPath's date/time comparison (Medplum compares the strings, which accepts
 * `start: 2023-06-21, end: 2023-06-21T06:20:00Z`). Values equal up to the precision both have
 * but of different precision compare as empty, so the invariant fails, as in the HL7 validator.
 * @see https://hl7.org/fhir/R4/datatypes.html#Period
 * @see https://hl7.org/fhirpath/N1/#comparison
 */
import type { OperationOutcomeIssue } from '@medplum/fhirtypes';
import { invalidIssue } from './ValidationIssue.ts';
import { isObject, type VisitedElement } from './walkElements.ts';

const DATE_TIME =
  /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2}(?:\.\d+)?))?(Z|[+-]\d{2}:\d{2})?)?)?)?$/;

export function checkPeriodOrder(visited: VisitedElement, issues: OperationOutcomeIssue[]): void {
  if (visited.type !== 'Period' || !isObject(visited.value)) return;
  const { start, end } = visited.value;
  if (typeof start !== 'string' || typeof end !== 'string') return;
  if (compareDateTimes(start, end) !== 'after-or-unknown') return;
  issues.push(
    invalidIssue(
      visited.location,
      `Constraint per-1 not met: If present, start SHALL have a lower value than end (start ${start}, end ${end})`,
      'invariant',
    ),
  );
}

/** 'ok' when start <= end under FHIRPath semantics; otherwise after, or not comparable. */
export function compareDateTimes(start: string, end: string): 'ok' | 'after-or-unknown' {
  const a = DATE_TIME.exec(start);
  const b = DATE_TIME.exec(end);
  if (!a || !b) return 'ok'; // malformed values are the primitive validator's to report
  if (a[4] !== undefined && b[4] !== undefined && a[7] && b[7]) {
    // Both have a time and a zone: compare instants (minute precision if either lacks seconds).
    const minutes = a[6] === undefined || b[6] === undefined;
    const instant = (m: RegExpExecArray) =>
      Date.parse(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${minutes ? '00' : (m[6] ?? '00')}${m[7]}`);
    return instant(a) <= instant(b) ? 'ok' : 'after-or-unknown';
  }
  const parts = (m: RegExpExecArray) => [m[1], m[2], m[3], m[4], m[5], m[6]].filter((p) => p !== undefined);
  const left = parts(a).map(Number);
  const right = parts(b).map(Number);
  const common = Math.min(left.length, right.length);
  for (let i = 0; i < common; i++) {
    const x = left[i] ?? 0;
    const y = right[i] ?? 0;
    if (x !== y) return x < y ? 'ok' : 'after-or-unknown';
  }
  return left.length === right.length ? 'ok' : 'after-or-unknown';
}
