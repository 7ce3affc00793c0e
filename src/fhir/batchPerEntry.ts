/**
 * A `batch` from a SMART app (a patient's, a practitioner's or another user's token): each entry
 * answered as its own request through the whole FHIR edge (R4 http.html#brules: "each entry is
 * processed as if it were a separate request"), so each gets its own access decision under the
 * token's scopes, its own audit event, its own subsetting and its own status. A SMART token is
 * granted per resource type (`patient/Observation.rs`), never on `Bundle`, so the Bundle itself
 * asks for nothing; what the entries touch is decided entry by entry. Another member's systems
 * batch the same way. This institution's own systems' batches and every transaction (atomic: its
 * entries cannot be separate requests) keep the router's path.
 * @see https://hl7.org/fhir/R4/http.html#transaction
 */
import type { Bundle, BundleEntry, OperationOutcome, Resource } from '@medplum/fhirtypes';
import type { FastifyRequest } from 'fastify';
import { outcome } from './toOperationOutcome.ts';

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE']);
/** The request headers an entry carries over from its batch. */
const CARRIED = ['authorization', 'x-purpose-of-use', 'x-break-glass-reason', 'prefer', 'accept'];

export interface BatchPerEntryParameters {
  request: FastifyRequest;
  /** The FHIR prefix (`/fhir`) and the node's base URL (absolute entry URLs must be under it). */
  prefix: string;
  baseUrl: string;
  bundle: Bundle;
}

export async function answerBatchPerEntry(p: BatchPerEntryParameters): Promise<Bundle> {
  const entry: BundleEntry[] = [];
  for (const item of p.bundle.entry ?? []) entry.push(await answerEntry(p, item));
  return { resourceType: 'Bundle', type: 'batch-response', entry };
}

async function answerEntry(p: BatchPerEntryParameters, item: BundleEntry): Promise<BundleEntry> {
  const asked = item.request;
  const method = asked?.method ?? '';
  if (!asked?.url || !METHODS.has(method))
    return failed(
      400,
      outcome(undefined, 'invalid', 'each batch entry needs request.method and request.url'),
    );
  let url = asked.url;
  if (url.startsWith(p.baseUrl)) url = url.slice(p.baseUrl.length);
  else if (/^[a-z]+:/i.test(url))
    return failed(400, outcome(undefined, 'invalid', `entry URL ${asked.url} is not on this server`));
  url = url.replace(/^\/+/, '');
  if (url === '' || url.startsWith('?'))
    return failed(400, outcome(undefined, 'not-supported', 'a batch entry cannot be a batch or transaction'));
  const headers: Record<string, string> = {};
  for (const name of CARRIED) {
    const value = p.request.headers[name];
    if (typeof value === 'string') headers[name] = value;
  }
  if (asked.ifMatch) headers['if-match'] = asked.ifMatch;
  if (asked.ifNoneMatch) headers['if-none-match'] = asked.ifNoneMatch;
  if (asked.ifNoneExist) headers['if-none-exist'] = asked.ifNoneExist;
  if (asked.ifModifiedSince) headers['if-modified-since'] = asked.ifModifiedSince;
  let payload: string | undefined;
  if (method === 'PATCH' && item.resource?.resourceType === 'Binary' && item.resource.data) {
    // A JSON Patch travels in a batch as a Binary (R4 http.html#patch).
    payload = Buffer.from(item.resource.data, 'base64').toString('utf8');
    headers['content-type'] = item.resource.contentType ?? 'application/json-patch+json';
  } else if (item.resource && (method === 'POST' || method === 'PUT' || method === 'PATCH')) {
    payload = JSON.stringify(item.resource);
    headers['content-type'] = 'application/fhir+json';
  }
  const response = await p.request.server.inject({
    method: method as 'GET',
    url: `${p.prefix}/${url}`,
    headers,
    remoteAddress: p.request.ip,
    ...(payload === undefined ? {} : { payload }),
  });
  const status = response.statusCode;
  const text = response.body;
  const body = text ? (JSON.parse(text) as Resource) : undefined;
  const header = (name: string) => {
    const value = response.headers[name];
    return typeof value === 'string' ? value : undefined;
  };
  if (status >= 400)
    return {
      response: {
        status: String(status),
        ...(body?.resourceType === 'OperationOutcome' ? { outcome: body as OperationOutcome } : {}),
      },
    };
  const location = header('location');
  const etag = header('etag');
  const lastModified = header('last-modified');
  return {
    ...(body && body.resourceType !== 'OperationOutcome' ? { resource: body } : {}),
    response: {
      status: String(status),
      ...(location ? { location } : {}),
      ...(etag ? { etag } : {}),
      ...(lastModified ? { lastModified: new Date(lastModified).toISOString() } : {}),
      ...(body?.resourceType === 'OperationOutcome' ? { outcome: body as OperationOutcome } : {}),
    },
  };
}

function failed(status: number, result: OperationOutcome): BundleEntry {
  return { response: { status: String(status), outcome: result } };
}
