/** Who is calling, as established by a verified access token. */
import type { ResourceScope, ScopeContext } from './scopes.ts';

export type PrincipalKind = 'system' | 'patient' | 'practitioner' | 'officer' | 'registrar';
export const PRINCIPAL_KINDS: readonly PrincipalKind[] = [
  'system',
  'patient',
  'practitioner',
  'officer',
  'registrar',
];

export interface Principal {
  /** `system` for backend clients; otherwise the role of the logged-in user (users.ts). */
  kind: PrincipalKind;
  /** The scope context the token's resource scopes apply in. */
  context: ScopeContext;
  /** Token subject: the client id for backend clients, the username for users. */
  subject: string;
  clientId: string;
  /** Space-separated granted scopes, as in the token. */
  scope: string;
  scopes: readonly ResourceScope[];
  /** Chain address (lower-case): the user's, or the member a backend client acts for. */
  address?: string;
  /** FHIR id of the patient (patient tokens: the launch context). */
  patient?: string;
  /** `Practitioner/123`, `Patient/456`. */
  fhirUser?: string;
  /** Purpose of use bound into the token, if any. */
  purposeOfUse?: string;
  /** Whether the principal belongs to this institution (no member address or this node's own). */
  internal: boolean;
  /** Token expiry, unix seconds. */
  expiresAt: number;
  /** When the token was issued, unix seconds (revocation ends tokens issued before it). */
  issuedAt?: number;
  /** The token's `jti` (a token revoked at /auth/revoke is refused by it). */
  tokenId?: string;
}
