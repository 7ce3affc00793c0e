/**
 * A viem client on the chain through the node's read-only JSON-RPC window
 * (`/portal/api/chain/rpc`), for checking proofs in this browser.
 */
import { createPublicClient, http, type PublicClient } from 'viem';
import { currentSession } from '../auth/session.ts';

export function chainClient(): PublicClient {
  const session = currentSession();
  return createPublicClient({
    transport: http(`${location.origin}/portal/api/chain/rpc`, {
      batch: false,
      retryCount: 1,
      fetchOptions: { headers: session ? { authorization: `Bearer ${session.accessToken}` } : {} },
    }),
  }) as PublicClient;
}
