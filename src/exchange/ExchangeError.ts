/**
 * Errors of the exchange between members. The custodian answers them as an OperationOutcome
 * with `status`; the requester reports them per custodian. Callers switch on `code`.
 */
import { MedledgerError } from '../errors/MedledgerError.ts';

export type ExchangeErrorCode =
  /** The request's signature, clock window or shape is wrong. */
  | 'ERR_EXCHANGE_SIGNATURE'
  /** The nonce was seen before. */
  | 'ERR_EXCHANGE_REPLAY'
  /** The signer is not an active member of the Registry. */
  | 'ERR_EXCHANGE_NOT_MEMBER'
  /** No consent on chain covers the request. */
  | 'ERR_EXCHANGE_NO_CONSENT'
  /** The custodian holds no records of this patient. */
  | 'ERR_EXCHANGE_NOT_FOUND'
  /** The request body is not what the protocol expects. */
  | 'ERR_EXCHANGE_INVALID'
  /** Consent state, the chain or the other node could not be reached or is not current. */
  | 'ERR_EXCHANGE_UNAVAILABLE'
  /** The response could not be decrypted or is not a disclosure. */
  | 'ERR_EXCHANGE_RESPONSE';

export class ExchangeError extends MedledgerError {
  declare readonly code: ExchangeErrorCode;
  /** Set once the refusal has its audit event (so the HTTP edge does not write a second). */
  audited = false;

  constructor(code: ExchangeErrorCode, message: string, cause?: unknown) {
    super(code, message, { cause });
  }
}

/** The FHIR issue type of an exchange refusal, by its code. */
export function refusalIssueType(
  error: ExchangeError,
): 'security' | 'forbidden' | 'not-found' | 'transient' | 'invalid' {
  switch (error.code) {
    case 'ERR_EXCHANGE_SIGNATURE':
    case 'ERR_EXCHANGE_REPLAY':
      return 'security';
    case 'ERR_EXCHANGE_NOT_FOUND':
      return 'not-found';
    case 'ERR_EXCHANGE_UNAVAILABLE':
    case 'ERR_EXCHANGE_RESPONSE':
      return 'transient';
    case 'ERR_EXCHANGE_INVALID':
      return 'invalid';
    default:
      return 'forbidden';
  }
}
