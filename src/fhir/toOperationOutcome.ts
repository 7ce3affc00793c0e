/**
 * The one place an error becomes a FHIR OperationOutcome and an HTTP status (the role of
 * Medplum's outcomes.ts). Security failures say little: an integrity failure is one generic
 * 500 (which check failed goes to the integrity alert table), and anything unexpected is a
 * generic 500 whose detail goes to the log only.
 * @see https://hl7.org/fhir/R4/operationoutcome.html
 */
import { getStatus, isOperationOutcome, OperationOutcomeError } from '@medplum/core';
import type { OperationOutcome } from '@medplum/fhirtypes';
import { MedledgerError } from '../errors/MedledgerError.ts';

export interface OutcomeWithStatus {
  status: number;
  outcome: OperationOutcome;
}

type IssueCode = NonNullable<OperationOutcome['issue']>[number]['code'];

/** An OperationOutcome with one error issue; `expression` is the element path, if known. */
export function outcome(
  id: string | undefined,
  code: IssueCode,
  text: string,
  expression?: string[],
): OperationOutcome {
  return {
    resourceType: 'OperationOutcome',
    ...(id === undefined ? {} : { id }),
    issue: [
      {
        severity: code === 'informational' ? 'information' : 'error',
        code,
        details: { text },
        ...(expression?.length ? { expression } : {}),
      },
    ],
  };
}

/** Statuses getStatus cannot express are carried by the outcome id. */
const STATUS_IDS: Record<string, number> = {
  'medledger-unavailable': 503,
  'medledger-unsupported-media-type': 415,
  'medledger-payload-too-large': 413,
  'medledger-not-acceptable': 406,
  'medledger-method-not-allowed': 405,
};

export function statusOf(result: OperationOutcome): number {
  return (result.id && STATUS_IDS[result.id]) || getStatus(result);
}

const BY_CODE: Record<string, (message: string) => OperationOutcome> = {
  ERR_NOT_FOUND: () => outcome('not-found', 'not-found', 'Not found'),
  ERR_GONE: (m) => outcome('gone', 'deleted', m),
  ERR_VERSION_CONFLICT: (m) => outcome('conflict', 'conflict', m),
  ERR_INVALID_RESOURCE: (m) => outcome(undefined, 'invalid', m),
  ERR_INTEGRITY: () =>
    outcome(undefined, 'exception', 'The stored record failed its integrity check and was not served'),
};

export function toOperationOutcome(error: unknown): OutcomeWithStatus {
  let result: OperationOutcome;
  if (error instanceof OperationOutcomeError) result = error.outcome;
  else if (isOperationOutcome(error)) result = error;
  else if (error instanceof MedledgerError) {
    const known = BY_CODE[error.code];
    if (known) result = known(error.message);
    else if (error.status === 503) result = outcome('medledger-unavailable', 'transient', error.message);
    else if (error.status >= 400 && error.status < 500) result = outcome(undefined, 'invalid', error.message);
    else result = outcome(undefined, 'exception', 'Internal server error');
  } else result = outcome(undefined, 'exception', 'Internal server error');
  return { status: statusOf(result), outcome: result };
}

/** Wraps any error as an OperationOutcomeError (what @medplum/fhir-router expects from a repository). */
export function asOutcomeError(error: unknown): OperationOutcomeError {
  if (error instanceof OperationOutcomeError) return error;
  return new OperationOutcomeError(toOperationOutcome(error).outcome, error);
}
