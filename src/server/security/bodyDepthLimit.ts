/**
 * A parsed JSON body nested deeper than any FHIR resource needs is refused (400
 * OperationOutcome) before validation, search indexing or canonicalization walk it
 * recursively and exhaust the stack. The walk here is iterative.
 */
import { OperationOutcomeError } from '@medplum/core';
import type { FastifyInstance } from 'fastify';
import { outcome } from '../../fhir/toOperationOutcome.ts';

/** Arrays and objects; real resources (nested Questionnaire items included) stay far below. */
export const MAX_BODY_DEPTH = 100;

export function limitBodyDepth(scope: FastifyInstance, maxDepth = MAX_BODY_DEPTH): void {
  scope.addHook('preValidation', async (request) => {
    if (typeof request.body === 'object' && request.body !== null && depthExceeds(request.body, maxDepth)) {
      throw Object.assign(
        new OperationOutcomeError(
          outcome(undefined, 'too-costly', `The body is nested deeper than ${maxDepth} levels`),
        ),
        { statusCode: 400 },
      );
    }
  });
}

export function depthExceeds(value: object, maxDepth: number): boolean {
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [current, depth] = stack.pop()!;
    if (typeof current !== 'object' || current === null) continue;
    if (depth > maxDepth) return true;
    for (const child of Array.isArray(current) ? current : Object.values(current)) {
      if (typeof child === 'object' && child !== null) stack.push([child, depth + 1]);
    }
  }
  return false;
}
