/** A refused or malformed portal API request; its code says which (errors/httpStatus.ts maps it). */
import { MedledgerError } from '../errors/MedledgerError.ts';

export type PortalErrorCode =
  | 'ERR_PORTAL_INVALID'
  | 'ERR_PORTAL_UNAUTHENTICATED'
  | 'ERR_PORTAL_FORBIDDEN'
  | 'ERR_PORTAL_NOT_FOUND'
  | 'ERR_PORTAL_CONFLICT'
  | 'ERR_PORTAL_UNAVAILABLE';

export class PortalError extends MedledgerError {
  declare readonly code: PortalErrorCode;

  constructor(code: PortalErrorCode, message: string) {
    super(code, message);
  }
}

/** The portal's error for a refused access decision (which says 401, 403 or 404). */
export function refusedBy(decisionStatus: number, message: string): PortalError {
  const code =
    decisionStatus === 401
      ? 'ERR_PORTAL_UNAUTHENTICATED'
      : decisionStatus === 404
        ? 'ERR_PORTAL_NOT_FOUND'
        : 'ERR_PORTAL_FORBIDDEN';
  return new PortalError(code, message);
}
