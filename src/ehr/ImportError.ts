/** Errors of EHR import and patient claims; callers switch on `code`. */
import { MedledgerError } from '../errors/MedledgerError.ts';

export type ImportErrorCode =
  | 'ERR_IMPORT_PATH'
  | 'ERR_CLAIM_INVALID'
  | 'ERR_CLAIM_USED'
  | 'ERR_CLAIM_SIGNATURE'
  | 'ERR_CLAIM_NOT_FOUND';

export class ImportError extends MedledgerError {
  constructor(code: ImportErrorCode, message: string) {
    super(code, message);
  }
}
