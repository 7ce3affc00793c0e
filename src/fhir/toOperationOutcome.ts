/**
 * The one place an error becomes a FHIR OperationOutcome and an HTTP status (the role of
 * Medplum's outcomes.ts). Security failures say little: an integrity failure is one generic
 * 500 (which check failed goes to the integrity alert table), and anything unexpected is a
 * generic 500 whose detail goes to the log only.
 * @see https://hl7.org/fhir/R4/operationoutcome.html
 */

import { getStatus, isOperationOutcome, OperationOutcomeError } from '@medplum/core';
import type { OperationOutcome } from '@medplum/fhirtypes';
import { isChainUnreachable } from '../chain/chainUnreachable.ts';
import { httpStatusOf } from '../errors/httpStatus.ts';
import { ChainError, MedledgerError } from '../errors/MedledgerError.ts';

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
  'medledger-bad-gateway': 502,
  'medledger-too-many-requests': 429,
  'medledger-unsupported-media-type': 415,
  'medledger-payload-too-large': 413,
  'medledger-not-acceptable': 406,
  'medledger-method-not-allowed': 405,
};

export function statusOf(result: OperationOutcome): number {
  return (result.id && STATUS_IDS[result.id]) || getStatus(result);
}

/** The outcome id (which carries the status through Medplum's router) and issue type of a status. */
const OUTCOME_OF_STATUS: Record<number, [string | undefined, IssueCode]> = {
  400: [undefined, 'invalid'],
  401: ['unauthorized', 'login'],
  403: ['forbidden', 'forbidden'],
  404: ['not-found', 'not-found'],
  405: ['medledger-method-not-allowed', 'not-supported'],
  406: ['medledger-not-acceptable', 'not-supported'],
  409: ['conflict', 'conflict'],
  410: ['gone', 'deleted'],
  412: ['precondition-failed', 'conflict'],
  413: ['medledger-payload-too-large', 'too-costly'],
  415: ['medledger-unsupported-media-type', 'not-supported'],
  502: ['medledger-bad-gateway', 'transient'],
  503: ['medledger-unavailable', 'transient'],
};

/** What a few statuses say whatever the error's own message (the framework's are not for clients). */
const FIXED_TEXT: Record<number, string> = {
  413: 'The request body is too large',
  415: 'Unsupported content type',
};

const BY_CODE: Record<string, (message: string) => OperationOutcome> = {
  ERR_NOT_FOUND: () => outcome('not-found', 'not-found', 'Not found'),
  ERR_INTEGRITY: () =>
    outcome(undefined, 'exception', 'The stored record failed its integrity check and was not served'),
};

/**
 * Any error as an HTTP status and an OperationOutcome: an outcome error as it is; a medledger
 * error by its code (errors/httpStatus.ts), its message shown for 4xx, 502 and 503; a web
 * framework's request error (a body too large, a malformed body) by its status; anything else a
 * generic 500.
 */
export function toOperationOutcome(thrown: unknown): OutcomeWithStatus {
  let error = thrown;
  // The chain not answering (a refused connection, a timeout) is transient: 503, never 500.
  if (isChainUnreachable(error))
    error = new ChainError('ERR_CHAIN_UNREACHABLE', 'the chain does not answer; try again shortly', error);
  if (error instanceof OperationOutcomeError)
    return { status: statusOf(error.outcome), outcome: error.outcome };
  if (isOperationOutcome(error)) return { status: statusOf(error), outcome: error };
  const carried = (error as { outcome?: unknown } | null)?.outcome;
  const status = httpStatusOf(error);
  if (isOperationOutcome(carried) && status < 500) return { status, outcome: carried };
  const known = error instanceof MedledgerError ? BY_CODE[error.code] : undefined;
  if (known) {
    const result = known((error as MedledgerError).message);
    return { status: statusOf(result), outcome: result };
  }
  const shape = OUTCOME_OF_STATUS[status];
  if (shape && (status < 500 || error instanceof MedledgerError)) {
    const text = FIXED_TEXT[status] ?? (error instanceof Error ? error.message : String(error));
    return { status, outcome: outcome(shape[0], shape[1], text) };
  }
  if (status >= 400 && status < 500)
    return {
      status,
      outcome: outcome(undefined, 'invalid', error instanceof Error ? error.message : String(error)),
    };
  return { status: 500, outcome: outcome(undefined, 'exception', 'Internal server error') };
}

/** Wraps any error as an OperationOutcomeError (what @medplum/fhir-router expects from a repository). */
export function asOutcomeError(error: unknown): OperationOutcomeError {
  if (error instanceof OperationOutcomeError) return error;
  return new OperationOutcomeError(toOperationOutcome(error).outcome, error);
}
