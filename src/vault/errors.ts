/**
 * Errors of the record vault. Callers switch on `code`; messages about security failures say
 * little on purpose (which check failed goes to the integrity alert table, not to the client).
 */
import { MedledgerError } from '../errors/MedledgerError.ts';

/** Stored data failed a cryptographic check (decryption, commitment, leaf, Merkle proof, anchored root). */
export class IntegrityError extends MedledgerError {
  constructor(cause?: unknown) {
    super('ERR_INTEGRITY', 'the stored record failed its integrity check and was not served', { cause });
  }
}

/** No such resource (or version). */
export class NotFoundError extends MedledgerError {
  constructor(message = 'resource not found') {
    super('ERR_NOT_FOUND', message);
  }
}

/** The resource (version) was deleted or erased. */
export class GoneError extends MedledgerError {
  constructor(message = 'resource is gone') {
    super('ERR_GONE', message);
  }
}

/** `If-Match` named a version that is not the current one, or a concurrent write won. */
export class VersionConflictError extends MedledgerError {
  constructor(message = 'the resource was changed by another request; read it again and retry') {
    super('ERR_VERSION_CONFLICT', message);
  }
}

/** The resource type or id is malformed. */
export class InvalidResourceError extends MedledgerError {
  constructor(message: string) {
    super('ERR_INVALID_RESOURCE', message);
  }
}
