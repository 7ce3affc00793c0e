/**
 * A loopback JSON-RPC proxy that forwards requests to a real node and records the method
 * names they carried (single calls and batches), so a test can prove which RPC methods a
 * medledger process actually sends to its chain. With `allow`, it also narrows the node to
 * another client's method surface: other methods get JSON-RPC error -32601 "Method not
 * found", as Besu answers a method it does not implement.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordingRpcProxy {
  url: string;
  /** Every method name seen, in order. */
  readonly methods: readonly string[];
  /** Methods answered with "Method not found" because `allow` refused them. */
  readonly refused: readonly string[];
  close(): Promise<void>;
}

export interface RecordingRpcProxyOptions {
  /** Which methods the emulated node implements; default all. */
  allow?: (method: string) => boolean;
}

interface RpcCall {
  id?: unknown;
  method?: string;
}

export async function startRecordingRpcProxy(
  upstream: string,
  options: RecordingRpcProxyOptions = {},
): Promise<RecordingRpcProxy> {
  const methods: string[] = [];
  const refused: string[] = [];
  const allow = options.allow ?? (() => true);
  const forward = async (call: RpcCall): Promise<unknown> => {
    const method = String(call.method);
    methods.push(method);
    if (!allow(method)) {
      refused.push(method);
      return { jsonrpc: '2.0', id: call.id ?? null, error: { code: -32601, message: 'Method not found' } };
    }
    const answer = await fetch(upstream, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(call),
    });
    return answer.json();
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let parsed: RpcCall | RpcCall[];
      try {
        parsed = JSON.parse(Buffer.concat(chunks).toString('utf8')) as RpcCall | RpcCall[];
      } catch {
        methods.push('<unparseable>');
        res.writeHead(400);
        res.end();
        return;
      }
      const answer = Array.isArray(parsed) ? Promise.all(parsed.map(forward)) : forward(parsed);
      answer.then(
        (body) => {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify(body));
        },
        (error: unknown) => {
          res.writeHead(502);
          res.end(String(error));
        },
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    methods,
    refused,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
