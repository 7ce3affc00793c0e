/** Errors of `medledger sync`, with stable codes. */
import { MedledgerError } from '../../errors/MedledgerError.ts';

export type SyncErrorCode = 'ERR_SYNC_SOURCE' | 'ERR_SYNC_AUTH' | 'ERR_SYNC_OPTIONS';

export class SyncError extends MedledgerError {
  constructor(code: SyncErrorCode, message: string, cause?: unknown) {
    super(code, message, { cause });
  }
}
