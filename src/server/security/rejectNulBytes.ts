/**
 * PostgreSQL text cannot hold U+0000, so a NUL byte in an id or a search value would reach
 * the database as an error (a 500). No FHIR id, search value or form field needs one: a
 * request whose URL or form body encodes a NUL byte is a 400 OperationOutcome at the edge.
 * (JSON bodies may carry "\u0000" inside strings: they are stored encrypted, never as text.)
 */
import { OperationOutcomeError } from '@medplum/core';
import type { FastifyInstance } from 'fastify';
import { outcome } from '../../fhir/toOperationOutcome.ts';

const ENCODED_NUL = /%00/;

export function rejectNulBytes(scope: FastifyInstance): void {
  const refuse = () =>
    Object.assign(
      new OperationOutcomeError(outcome(undefined, 'invalid', 'The request contains a NUL byte (%00)')),
      { statusCode: 400 },
    );
  scope.addHook('onRequest', async (request) => {
    if (ENCODED_NUL.test(request.url)) throw refuse();
  });
  scope.addHook('preValidation', async (request) => {
    if (typeof request.body === 'string' && (ENCODED_NUL.test(request.body) || request.body.includes('\0')))
      throw refuse();
  });
}
