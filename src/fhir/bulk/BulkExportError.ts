/** Errors of bulk export, each with a stable code and the HTTP status the FHIR edge answers. */
import { MedledgerError } from '../../errors/MedledgerError.ts';

export type BulkExportErrorCode =
  | 'ERR_BULK_INVALID'
  | 'ERR_BULK_NOT_FOUND'
  | 'ERR_BULK_FORBIDDEN'
  | 'ERR_BULK_FAILED';

const STATUS: Record<BulkExportErrorCode, number> = {
  ERR_BULK_INVALID: 400,
  ERR_BULK_NOT_FOUND: 404,
  ERR_BULK_FORBIDDEN: 403,
  ERR_BULK_FAILED: 500,
};

export class BulkExportError extends MedledgerError {
  constructor(code: BulkExportErrorCode, message: string, cause?: unknown) {
    super(code, message, { status: STATUS[code], cause });
  }
}
