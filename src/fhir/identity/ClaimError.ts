/** Errors of patient claim codes (`$claim`, `$claim-check`); callers switch on `code`. */
import { MedledgerError } from '../../errors/MedledgerError.ts';

export type ClaimErrorCode =
  | 'ERR_CLAIM_INVALID'
  | 'ERR_CLAIM_USED'
  | 'ERR_CLAIM_SIGNATURE'
  | 'ERR_CLAIM_NOT_FOUND';

export class ClaimError extends MedledgerError {
  constructor(code: ClaimErrorCode, message: string) {
    super(code, message);
  }
}
