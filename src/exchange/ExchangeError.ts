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

const STATUS: Record<ExchangeErrorCode, number> = {
  ERR_EXCHANGE_SIGNATURE: 401,
  ERR_EXCHANGE_REPLAY: 401,
  ERR_EXCHANGE_NOT_MEMBER: 403,
  ERR_EXCHANGE_NO_CONSENT: 403,
  ERR_EXCHANGE_NOT_FOUND: 404,
  ERR_EXCHANGE_INVALID: 400,
  ERR_EXCHANGE_UNAVAILABLE: 503,
  ERR_EXCHANGE_RESPONSE: 502,
};

export class ExchangeError extends MedledgerError {
  declare readonly code: ExchangeErrorCode;
  /** Set once the refusal has its audit event (so the HTTP edge does not write a second). */
  audited = false;

  constructor(code: ExchangeErrorCode, message: string, cause?: unknown) {
    super(code, message, { status: STATUS[code], cause });
  }
}
