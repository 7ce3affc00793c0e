/** A refused or malformed portal API request; `status` is the HTTP status it answers with. */
import { MedledgerError } from '../errors/MedledgerError.ts';

export class PortalError extends MedledgerError {
  constructor(status: 400 | 401 | 403 | 404 | 409 | 503, message: string) {
    super(`ERR_PORTAL_${status}`, message, { status });
  }
}
