/** Errors of the audit log. Integrity failures reuse the vault's ERR_INTEGRITY (one code for stored data). */
import { MedledgerError } from '../errors/MedledgerError.ts';

/** The blind-index key is missing or cannot be unwrapped with the keys this node holds. */
export class AuditKeyError extends MedledgerError {
  constructor(cause?: unknown) {
    super('ERR_AUDIT_KEY', 'the audit index key is not available', { cause });
  }
}

/** A search or report parameter is malformed; the message says which. */
export class InvalidAuditQueryError extends MedledgerError {
  constructor(message: string) {
    super('ERR_INVALID_AUDIT_QUERY', message);
  }
}

/** The event could not be written: the request that caused it must fail (nothing without an audit event). */
export class AuditWriteError extends MedledgerError {
  constructor(cause?: unknown) {
    super('ERR_AUDIT_WRITE', 'the audit event could not be written', { cause });
  }
}
