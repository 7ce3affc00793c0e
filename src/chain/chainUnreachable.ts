/**
 * Whether an error is the chain not answering (refused connection, timeout) rather than the chain
 * answering no: the FHIR boundary turns it into 503 (transient), never 500. Calls made while a
 * request waits use the connection's request client, whose timeout is short (connectChain.ts), so
 * a hung chain costs a request at most that long.
 */
import { BaseError, HttpRequestError, TimeoutError, WebSocketRequestError } from 'viem';

export function isChainUnreachable(error: unknown): boolean {
  if (!(error instanceof BaseError)) return false;
  return Boolean(
    error.walk(
      (e) => e instanceof HttpRequestError || e instanceof TimeoutError || e instanceof WebSocketRequestError,
    ),
  );
}
