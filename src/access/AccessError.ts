/**
 * Errors of authentication and authorization. `code` is stable; `oauthError` is the
 * RFC 6749 §5.2 error the token endpoint answers with.
 */
import { MedledgerError } from '../errors/MedledgerError.ts';

export type OAuthErrorCode =
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'invalid_scope'
  | 'unauthorized_client'
  | 'unsupported_grant_type';

export type AccessErrorCode =
  | 'ERR_ACCESS_TOKEN_MISSING'
  | 'ERR_ACCESS_TOKEN_INVALID'
  | 'ERR_ACCESS_TOKEN_REVOKED'
  | 'ERR_ACCESS_USER_UNKNOWN'
  | 'ERR_ACCESS_CLIENT_INVALID'
  | 'ERR_ACCESS_GRANT_INVALID'
  | 'ERR_ACCESS_SCOPE_INVALID'
  | 'ERR_ACCESS_REQUEST_INVALID'
  | 'ERR_ACCESS_GRANT_TYPE_UNSUPPORTED'
  | 'ERR_ACCESS_USER_EXISTS'
  | 'ERR_ACCESS_CLIENT_EXISTS';

const oauthErrors: Record<AccessErrorCode, OAuthErrorCode> = {
  ERR_ACCESS_TOKEN_MISSING: 'invalid_request',
  ERR_ACCESS_TOKEN_INVALID: 'invalid_request',
  ERR_ACCESS_TOKEN_REVOKED: 'invalid_request',
  ERR_ACCESS_USER_UNKNOWN: 'invalid_request',
  ERR_ACCESS_CLIENT_INVALID: 'invalid_client',
  ERR_ACCESS_GRANT_INVALID: 'invalid_grant',
  ERR_ACCESS_SCOPE_INVALID: 'invalid_scope',
  ERR_ACCESS_REQUEST_INVALID: 'invalid_request',
  ERR_ACCESS_GRANT_TYPE_UNSUPPORTED: 'unsupported_grant_type',
  ERR_ACCESS_USER_EXISTS: 'invalid_request',
  ERR_ACCESS_CLIENT_EXISTS: 'invalid_request',
};

export class AccessError extends MedledgerError {
  declare readonly code: AccessErrorCode;
  readonly oauthError: OAuthErrorCode;

  constructor(code: AccessErrorCode, message: string, cause?: unknown) {
    super(code, message, { cause });
    this.oauthError = oauthErrors[code];
  }
}
