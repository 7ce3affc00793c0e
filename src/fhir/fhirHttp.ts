/**
 * FHIR's JSON wire format over fastify: body parsing (UTF-8 BOM tolerated; non-JSON, wrong
 * content types and malformed JSON are 4xx OperationOutcomes, never 5xx) and responses
 * (`application/fhir+json`, `_pretty`, ETag, Last-Modified, `Prefer: return=`).
 * @see https://hl7.org/fhir/R4/http.html#mime-type
 */
import { OperationOutcomeError } from '@medplum/core';
import type { OperationOutcome, Resource } from '@medplum/fhirtypes';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { outcome } from './toOperationOutcome.ts';

const JSON_TYPES = /^application\/(fhir\+json|json|json-patch\+json)$/;
const FORM_TYPE = 'application/x-www-form-urlencoded';

export function parseFhirBody(
  request: FastifyRequest,
  raw: Buffer,
  done: (error: Error | null, body?: unknown) => void,
): void {
  const type = (request.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (type === FORM_TYPE) {
    done(null, raw.toString('utf8'));
    return;
  }
  if (!JSON_TYPES.test(type)) {
    done(
      fhirError(
        415,
        outcome(
          'medledger-unsupported-media-type',
          'not-supported',
          `Unsupported content type "${type}"; use application/fhir+json`,
        ),
      ),
    );
    return;
  }
  let text = raw.toString('utf8');
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (text.trim() === '') {
    done(null, undefined);
    return;
  }
  try {
    done(null, JSON.parse(text));
  } catch (error) {
    done(
      fhirError(
        400,
        outcome(undefined, 'structure', `The body is not valid JSON: ${(error as Error).message}`),
      ),
    );
  }
}

function fhirError(statusCode: number, result: OperationOutcome): Error {
  return Object.assign(new OperationOutcomeError(result), { statusCode });
}

export function sendFhir(
  reply: FastifyReply,
  status: number,
  body: Resource,
  query: Record<string, string | string[] | undefined>,
  prefer?: string | undefined,
  result?: OperationOutcome,
): FastifyReply {
  reply.code(status).header('content-type', 'application/fhir+json; charset=utf-8');
  const meta =
    body.resourceType !== 'OperationOutcome' && body.resourceType !== 'Bundle' ? body.meta : undefined;
  if (meta?.versionId) reply.header('etag', `W/"${meta.versionId}"`);
  if (meta?.lastUpdated) reply.header('last-modified', new Date(meta.lastUpdated).toUTCString());
  const wants = /return=(minimal|representation|OperationOutcome)/i.exec(prefer ?? '')?.[1];
  if (wants === 'minimal' && status < 400) return reply.send('');
  const payload = wants === 'OperationOutcome' && status < 400 && result ? result : body;
  const pretty = query._pretty === 'true';
  return reply.send(JSON.stringify(payload, null, pretty ? 2 : undefined));
}
