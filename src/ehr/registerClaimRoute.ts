/**
 * `POST /fhir/Patient/{id}/$claim` with `{ "claimCode", "newAddress", "signature" }`: a patient
 * imported with a generated address binds their own key (claimPatient). It needs no token: the
 * one-time code and the signature are the proof. Answers the updated Patient, or an
 * OperationOutcome (400 invalid code or signature, 409 already claimed).
 *
 * `POST /fhir/Patient/{id}/$change-key` with `{ "newAddress", "signature", "newSignature",
 * "deadline" }`: the patient moves to a new key, signed by the current key and the new one
 * (changeKey.ts). No token either: the two signatures are the proof.
 */
import type { FastifyInstance } from 'fastify';
import { MedledgerError } from '../errors/MedledgerError.ts';
import type { FhirService } from '../fhir/FhirService.ts';
import { changePatientKey } from '../fhir/identity/changeKey.ts';
import { outcome, toOperationOutcome } from '../fhir/toOperationOutcome.ts';
import { claimPatient } from './claimPatient.ts';
import { ImportError } from './ImportError.ts';

export async function registerClaimRoute(app: FastifyInstance, service: FhirService): Promise<void> {
  await app.register(async (scope) => {
    scope.addContentTypeParser(
      ['application/fhir+json', 'application/json'],
      { parseAs: 'string', bodyLimit: 64 * 1024 },
      (_request, body, done) => {
        try {
          done(null, JSON.parse(String(body)));
        } catch {
          done(new ImportError('ERR_CLAIM_INVALID', 'the body is not JSON'), undefined);
        }
      },
    );
    scope.post<{ Params: { id: string }; Body: Record<string, unknown> }>(
      '/fhir/Patient/:id/$change-key',
      async (request, reply) => {
        const body = request.body ?? {};
        try {
          const { patient } = await changePatientKey(service, {
            patientId: request.params.id,
            newAddress: body.newAddress,
            signature: body.signature,
            newSignature: body.newSignature,
            deadline: body.deadline,
            network: request.ip,
          });
          return reply.code(200).type('application/fhir+json').send(patient);
        } catch (error) {
          if (error instanceof MedledgerError && error.status === 400)
            return reply
              .code(400)
              .type('application/fhir+json')
              .send(outcome(error.code, 'invalid', error.message));
          const { status, outcome: result } = toOperationOutcome(error);
          return reply.code(status).type('application/fhir+json').send(result);
        }
      },
    );
    scope.post<{ Params: { id: string }; Body: Record<string, unknown> }>(
      '/fhir/Patient/:id/$claim',
      async (request, reply) => {
        const body = request.body ?? {};
        try {
          const { patient } = await claimPatient(service, {
            patientId: request.params.id,
            claimCode: body.claimCode,
            newAddress: body.newAddress,
            signature: body.signature,
            network: request.ip,
          });
          return reply.code(200).type('application/fhir+json').send(patient);
        } catch (error) {
          if (error instanceof ImportError)
            return reply
              .code(error.status)
              .type('application/fhir+json')
              .send(outcome(error.code, error.status === 409 ? 'conflict' : 'invalid', error.message));
          const { status, outcome: result } = toOperationOutcome(error);
          return reply.code(status).type('application/fhir+json').send(result);
        }
      },
    );
  });
}
