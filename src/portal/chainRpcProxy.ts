/**
 * A read-only JSON-RPC window on the chain for the browser, so the portal checks proofs
 * against the chain itself (the same viem code as `src/verify/standaloneReportCheck.ts`)
 * without being able to write: only the read methods below pass, one call per request (no
 * batches), forwarded to this node's RPC endpoint. The caller must be signed in.
 * @see https://ethereum.org/en/developers/docs/apis/json-rpc/
 */

import type { JsonRpcCall } from './PortalApi.ts';
import { PortalError } from './PortalError.ts';

export const READ_ONLY_RPC_METHODS: ReadonlySet<string> = new Set([
  'eth_chainId',
  'eth_blockNumber',
  'eth_call',
  'eth_getTransactionReceipt',
  'eth_getBlockByNumber',
]);

export function readOnlyCall(body: unknown): JsonRpcCall {
  const call = body as Partial<JsonRpcCall> | undefined;
  if (typeof call !== 'object' || call === null || Array.isArray(call))
    throw new PortalError('ERR_PORTAL_INVALID', 'one JSON-RPC call per request (no batches)');
  if (typeof call.method !== 'string' || !READ_ONLY_RPC_METHODS.has(call.method))
    throw new PortalError(
      'ERR_PORTAL_FORBIDDEN',
      `JSON-RPC method ${String(call.method)} is not one of the read-only methods`,
    );
  if (call.params !== undefined && !Array.isArray(call.params))
    throw new PortalError('ERR_PORTAL_INVALID', 'params must be an array');
  return {
    jsonrpc: '2.0',
    id: typeof call.id === 'number' || typeof call.id === 'string' ? call.id : 1,
    method: call.method,
    ...(call.params === undefined ? {} : { params: call.params }),
  };
}

/** Forwards one allowed call and returns the node's JSON-RPC answer unchanged. */
export async function forwardRpcCall(rpcUrl: string, call: JsonRpcCall): Promise<unknown> {
  const response = await fetch(rpcUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(call),
    signal: AbortSignal.timeout(15_000),
  }).catch((error: unknown) => {
    throw new PortalError(
      'ERR_PORTAL_UNAVAILABLE',
      `the chain is not reachable: ${(error as Error).message}`,
    );
  });
  if (!response.ok)
    throw new PortalError('ERR_PORTAL_UNAVAILABLE', `the chain answered HTTP ${response.status}`);
  return response.json();
}
