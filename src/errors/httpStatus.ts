/**
 * The one table from medledger's error codes to HTTP statuses. Errors carry a stable code and no
 * status (MedledgerError.ts); what a code means to an HTTP client is decided here, once, and read
 * by the HTTP edge (the FHIR, portal, exchange and claim routes and the server's error handler)
 * through {@link httpStatusOf}. A code not listed is a 500: a new error code is an internal error
 * until it is given a meaning here (httpStatus.test.ts checks every code thrown in src/ is listed).
 */
import { MedledgerError } from './MedledgerError.ts';

export const HTTP_STATUS_OF_CODE: Readonly<Record<string, number>> = {
  // configuration, store, crypto, chain
  ERR_CONFIG: 500,
  ERR_STORE: 503,
  ERR_DECRYPTION: 500,
  ERR_CHAIN_ANVIL: 503,
  ERR_CHAIN_DEPLOY: 503,
  ERR_CHAIN_STATE: 503,
  ERR_CHAIN_UNREACHABLE: 503,
  // vault
  ERR_INTEGRITY: 500,
  ERR_NOT_FOUND: 404,
  ERR_GONE: 410,
  ERR_VERSION_CONFLICT: 409,
  ERR_INVALID_RESOURCE: 400,
  // audit
  ERR_AUDIT_KEY: 500,
  ERR_INVALID_AUDIT_QUERY: 400,
  ERR_AUDIT_WRITE: 503,
  // access
  ERR_ACCESS_TOKEN_MISSING: 401,
  ERR_ACCESS_TOKEN_INVALID: 401,
  ERR_ACCESS_TOKEN_REVOKED: 401,
  ERR_ACCESS_USER_UNKNOWN: 404,
  ERR_ACCESS_CLIENT_INVALID: 401,
  ERR_ACCESS_GRANT_INVALID: 400,
  ERR_ACCESS_SCOPE_INVALID: 400,
  ERR_ACCESS_REQUEST_INVALID: 400,
  ERR_ACCESS_GRANT_TYPE_UNSUPPORTED: 400,
  ERR_ACCESS_USER_EXISTS: 409,
  ERR_ACCESS_CLIENT_EXISTS: 409,
  // consent relay and identity
  ERR_CONSENT_SIGNATURE_INVALID: 400,
  ERR_CONSENT_PARAMETERS: 400,
  ERR_CONSENT_DEADLINE: 400,
  ERR_CONSENT_PERIOD: 400,
  ERR_CONSENT_SCOPE: 400,
  ERR_CONSENT_DELEGATE: 400,
  ERR_CONSENT_NONCE: 409,
  ERR_CONSENT_NO_GRANT: 409,
  ERR_CONSENT_IN_FLIGHT: 409,
  ERR_CONSENT_REJECTED: 409,
  ERR_CONSENT_NO_PATIENT_ADDRESS: 409,
  ERR_CONSENT_LOST: 500,
  ERR_KEY_CHANGE_INVALID: 400,
  ERR_FHIR_INVALID: 400,
  // import, claim codes, sync, export
  ERR_IMPORT_PATH: 400,
  ERR_CLAIM_INVALID: 400,
  ERR_CLAIM_SIGNATURE: 400,
  ERR_CLAIM_NOT_FOUND: 404,
  ERR_CLAIM_USED: 409,
  ERR_SYNC_OPTIONS: 400,
  ERR_SYNC_SOURCE: 502,
  ERR_SYNC_AUTH: 502,
  ERR_BULK_INVALID: 400,
  ERR_BULK_FORBIDDEN: 403,
  ERR_BULK_NOT_FOUND: 404,
  ERR_BULK_FAILED: 500,
  // exchange between members
  ERR_EXCHANGE_SIGNATURE: 401,
  ERR_EXCHANGE_REPLAY: 401,
  ERR_EXCHANGE_NOT_MEMBER: 403,
  ERR_EXCHANGE_NO_CONSENT: 403,
  ERR_EXCHANGE_NOT_FOUND: 404,
  ERR_EXCHANGE_INVALID: 400,
  ERR_EXCHANGE_UNAVAILABLE: 503,
  ERR_EXCHANGE_RESPONSE: 502,
  // governance, portal
  ERR_GOVERNANCE_REJECTED: 409,
  ERR_PORTAL_INVALID: 400,
  ERR_PORTAL_UNAUTHENTICATED: 401,
  ERR_PORTAL_FORBIDDEN: 403,
  ERR_PORTAL_NOT_FOUND: 404,
  ERR_PORTAL_CONFLICT: 409,
  ERR_PORTAL_UNAVAILABLE: 503,
};

/**
 * The HTTP status of any error: a medledger code by the table, a web framework's or client
 * library's own `statusCode` (a body too large, a malformed body) as it is, anything else 500.
 */
export function httpStatusOf(error: unknown): number {
  if (error instanceof MedledgerError) return HTTP_STATUS_OF_CODE[error.code] ?? 500;
  const statusCode = (error as { statusCode?: unknown } | null)?.statusCode;
  if (typeof statusCode === 'number' && statusCode >= 400 && statusCode < 600) return statusCode;
  return 500;
}
