/** Errors of bulk export, each with a stable code and the HTTP status the FHIR edge answers. */
import { MedledgerError } from '../../errors/MedledgerError.ts';

export type BulkExportErrorCode =
  | 'ERR_BULK_INVALID'
  | 'ERR_BULK_NOT_FOUND'
  | 'ERR_BULK_FORBIDDEN'
  | 'ERR_BULK_FAILED';

export class BulkExportError extends MedledgerError {
  constructor(code: BulkExportErrorCode, message: string, cause?: unknown) {
    super(code, message, { cause });
  }
}
