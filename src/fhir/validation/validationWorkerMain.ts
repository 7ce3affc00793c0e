/**
 * The body of a validation worker thread: validates each resource it is sent exactly as a write
 * on the main thread would (validateResourceForWrite: @medplum/core plus medledger's rules) and
 * answers with the OperationOutcome of its errors, or none.
 */
import { parentPort } from 'node:worker_threads';
import type { Resource } from '@medplum/fhirtypes';
import { loadFhirDefinitions } from '../fhirDefinitions.ts';
import { validateResourceForWrite } from '../validateFhirResource.ts';
import type { ValidationRequest, ValidationResponse } from './validationPool.ts';

if (!parentPort) throw new Error('validationWorkerMain runs in a worker thread');
const port = parentPort;
loadFhirDefinitions();
port.on('message', (request: ValidationRequest) => {
  let response: ValidationResponse;
  try {
    const result = validateResourceForWrite(request.resource as Resource, request.policy);
    response = { id: request.id, outcome: result.ok ? undefined : result.outcome };
  } catch (error) {
    response = { id: request.id, error: error instanceof Error ? error.message : String(error) };
  }
  port.postMessage(response);
});
port.postMessage({ ready: true });
