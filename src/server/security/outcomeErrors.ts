/**
 * The error and not-found answers of routes outside the FHIR scope (`/healthz`, `$claim`,
 * unknown paths, body limits of the auth routes): the error's status and OperationOutcome as
 * toOperationOutcome gives them (the FHIR scope's handler uses the same), or OAuth's error format
 * on the token endpoints.
 */

import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from '../../config/logger.ts';
import { outcome, toOperationOutcome } from '../../fhir/toOperationOutcome.ts';

const FHIR_JSON = 'application/fhir+json; charset=utf-8';
/**
 * The token, revocation, introspection and launch endpoints answer in OAuth's error format, not
 * FHIR's (RFC 6749 section 5.2, RFC 7009, RFC 7662).
 */
const OAUTH_PATHS = /^\/auth\/(token|revoke|introspect|launch)(\?|$)/;

export function answerErrorsWithOutcomes(app: FastifyInstance, logger: Logger): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const { status: code, outcome: result } = toOperationOutcome(error);
    if (code >= 500) logger.warn(`http: ${error.message}`);
    if (OAUTH_PATHS.test(request.url) && code < 500) {
      return reply.code(code).send({ error: 'invalid_request', error_description: error.message });
    }
    return reply.code(code).header('content-type', FHIR_JSON).send(JSON.stringify(result));
  });
  app.setNotFoundHandler((_request, reply) =>
    reply
      .code(404)
      .header('content-type', FHIR_JSON)
      .send(JSON.stringify(outcome('not-found', 'not-found', 'No such route'))),
  );
}

/**
 * Fastify's own request errors before routing (a malformed percent-encoding in the path,
 * FST_ERR_BAD_URL): a 400 OperationOutcome. Passed as the `frameworkErrors` server option.
 */
export function frameworkErrorOutcome(error: FastifyError, _request: FastifyRequest, reply: FastifyReply) {
  return reply
    .code(400)
    .header('content-type', FHIR_JSON)
    .send(JSON.stringify(outcome(undefined, 'invalid', `Malformed request: ${error.message}`)));
}

/**
 * Requests Node's HTTP parser refuses (headers or URL too large, malformed request line):
 * the OperationOutcome answer is written to the socket, then it is closed. Passed as the
 * `clientErrorHandler` server option.
 */
export function clientErrorOutcome(error: NodeJS.ErrnoException, socket: Socket): void {
  if (!socket.writable || error.code === 'ECONNRESET') {
    socket.destroy();
    return;
  }
  const tooLarge = error.code === 'HPE_HEADER_OVERFLOW';
  const status = tooLarge ? '431 Request Header Fields Too Large' : '400 Bad Request';
  const body = JSON.stringify(
    outcome(
      undefined,
      tooLarge ? 'too-costly' : 'invalid',
      tooLarge ? 'The request line or headers are too large' : 'Malformed HTTP request',
    ),
  );
  socket.end(
    `HTTP/1.1 ${status}\r\nContent-Type: ${FHIR_JSON}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n${body}`,
  );
}
