/**
 * Test helper for attack tests: one HTTP request with an exact byte body (fetch would re-encode
 * invalid UTF-8) and the answer parsed as far as it parses, plus what a rejected request must
 * not have changed in the store.
 */
import { request as httpRequest } from 'node:http';
import type { TestNode } from '../../../src/fhir/testing/startTestNode.ts';

export interface RawAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  /** The body as JSON, or undefined when it is not JSON. */
  json: unknown;
}

export interface RawRequest {
  method: string;
  /** Path and query, e.g. `/fhir/Patient?name=x`. */
  path: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
}

export function rawRequest(baseUrl: string, r: RawRequest): Promise<RawAnswer> {
  const url = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: url.hostname,
        port: url.port,
        method: r.method,
        path: r.path,
        headers: {
          ...(r.body === undefined ? {} : { 'content-length': String(Buffer.byteLength(r.body)) }),
          ...r.headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown;
          try {
            json = text ? JSON.parse(text) : undefined;
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
        });
      },
    );
    // The server may answer an oversized request (431, 413) and close before the body is
    // written: the write then fails with the answer unread. Status 0 marks that case.
    req.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ECONNRESET' || error.code === 'EPIPE')
        resolve({ status: 0, headers: {}, text: error.code, json: undefined });
      else reject(error);
    });
    if (r.body !== undefined) req.write(r.body);
    req.end();
  });
}

/**
 * Counts of everything a request could store apart from its own audit event and the anchoring
 * that follows audit events: record versions, search index, erasures, consent relayed to the
 * outbox, claimed patients, authorization codes and used client-assertion ids.
 */
export async function storedFingerprint(t: TestNode): Promise<Record<string, number>> {
  const [row] = await t.node.db.query<Record<string, number>>(
    `SELECT (SELECT count(*)::int FROM record_versions) AS record_versions,
            (SELECT count(*)::int FROM fhir_search_index) AS search_index,
            (SELECT count(*)::int FROM record_erasures) AS erasures,
            (SELECT count(*)::int FROM chain_outbox WHERE contract = 'consent') AS chain_writes,
            (SELECT count(*)::int FROM ehr_patient_claims WHERE claimed_at IS NOT NULL) AS claims,
            (SELECT count(*)::int FROM access_codes) AS codes,
            (SELECT count(*)::int FROM access_used_jtis) AS used_jtis`,
  );
  return row ?? {};
}

export function isOperationOutcome(json: unknown): boolean {
  return (
    typeof json === 'object' &&
    json !== null &&
    (json as { resourceType?: unknown }).resourceType === 'OperationOutcome' &&
    Array.isArray((json as { issue?: unknown }).issue)
  );
}
