/** Errors of EHR import; callers switch on `code` (claim codes have theirs: fhir/identity/ClaimError.ts). */
import { MedledgerError } from '../errors/MedledgerError.ts';

export type ImportErrorCode = 'ERR_IMPORT_PATH';

export class ImportError extends MedledgerError {
  constructor(code: ImportErrorCode, message: string) {
    super(code, message);
  }
}
