/**
 * Who calls the token, revocation and introspection endpoints (RFC 6749 §2.3). A confidential
 * client proves it with a `private_key_jwt` assertion (RFC 7523, audience: the token endpoint,
 * whichever of the three endpoints it is sent to); a public client only names itself with
 * `client_id` (auth method `none`: its code is bound by PKCE, its refresh tokens by rotation).
 */
import type { Queryable } from '../store/db.ts';
import { AccessError } from './AccessError.ts';
import { type AccessClient, findClient } from './clients.ts';
import { CLIENT_ASSERTION_TYPE, verifyClientAssertion } from './verifyClientAssertion.ts';

export interface AuthenticatedClient {
  client: AccessClient;
  /** Whether the client proved its identity (an assertion), not just named it. */
  confidential: boolean;
}

export async function authenticateClient(
  db: Queryable,
  form: Readonly<Record<string, string | undefined>>,
  tokenEndpoint: string,
): Promise<AuthenticatedClient> {
  if (form.client_assertion !== undefined || form.client_assertion_type !== undefined) {
    if (form.client_assertion_type !== CLIENT_ASSERTION_TYPE || !form.client_assertion) {
      throw new AccessError(
        'ERR_ACCESS_CLIENT_INVALID',
        `client_assertion_type must be ${CLIENT_ASSERTION_TYPE}, with a client_assertion`,
      );
    }
    const client = await verifyClientAssertion(db, { assertion: form.client_assertion, tokenEndpoint });
    if (form.client_id !== undefined && form.client_id !== client.clientId)
      throw new AccessError('ERR_ACCESS_CLIENT_INVALID', 'client_id does not match the client assertion');
    return { client, confidential: true };
  }
  const client = form.client_id ? await findClient(db, form.client_id) : undefined;
  if (!client || client.disabled) throw new AccessError('ERR_ACCESS_CLIENT_INVALID', 'unknown client');
  // A client with keys must use them: naming it is not enough.
  if (client.kind !== 'public')
    throw new AccessError(
      'ERR_ACCESS_CLIENT_INVALID',
      'this client must authenticate with a client_assertion',
    );
  return { client, confidential: false };
}
