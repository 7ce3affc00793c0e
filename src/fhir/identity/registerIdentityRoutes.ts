/**
 * The routes that bind or move a patient's chain key, outside the FHIR router: no token (the
 * signatures are the proof), their own JSON parser and a 64 KiB body limit.
 *
 * `POST /fhir/Patient/{id}/$claim` with `{ "claimCode", "newAddress", "signature" }`: a patient
 * imported with a generated address binds their own key (claimPatient). It needs no token: the
 * one-time code and the signature are the proof. Answers the updated Patient, or an
 * OperationOutcome (400 invalid code or signature, 409 already claimed).
 *
 * `POST /fhir/Patient/{id}/$claim-check` with `{ "claimCode" }`: whether the code is this
 * patient's and unused (200 `{ "valid": true }`, else the same 400/409 as `$claim`), so the portal
 * checks the code before it makes a key and shows its recovery phrase. Spends nothing.
 *
 * `POST /fhir/Patient/{id}/$change-key` with `{ "newAddress", "signature", "newSignature",
 * "deadline" }`: the patient moves to a new key, signed by the current key and the new one
 * (changeKey.ts). No token either: the two signatures are the proof.
 */
import type { FastifyInstance } from 'fastify';
import type { FhirService } from '../FhirService.ts';
import { toOperationOutcome } from '../toOperationOutcome.ts';
import { ClaimError } from './ClaimError.ts';
import { changePatientKey } from './changeKey.ts';
import { checkClaimCode, claimPatient } from './claimPatient.ts';

export async function registerIdentityRoutes(app: FastifyInstance, service: FhirService): Promise<void> {
  await app.register(async (scope) => {
    scope.addContentTypeParser(
      ['application/fhir+json', 'application/json'],
      { parseAs: 'string', bodyLimit: 64 * 1024 },
      (_request, body, done) => {
        try {
          done(null, JSON.parse(String(body)));
        } catch {
          done(new ClaimError('ERR_CLAIM_INVALID', 'the body is not JSON'), undefined);
        }
      },
    );
    // Both answer the updated Patient, or their own refusal (400 invalid, 409 conflict) as an outcome.
    const identityRoute = (
      path: string,
      run: (id: string, body: Record<string, unknown>, network: string) => Promise<unknown>,
    ) =>
      scope.post<{ Params: { id: string }; Body: Record<string, unknown> }>(path, async (request, reply) => {
        try {
          const answer = await run(request.params.id, request.body ?? {}, request.ip);
          return reply.code(200).type('application/fhir+json').send(answer);
        } catch (error) {
          const { status, outcome: result } = toOperationOutcome(error);
          return reply.code(status).type('application/fhir+json').send(result);
        }
      });
    identityRoute('/fhir/Patient/:id/$claim-check', async (patientId, body, network) => {
      await checkClaimCode(service, { patientId, claimCode: body.claimCode, network });
      return { valid: true };
    });
    identityRoute(
      '/fhir/Patient/:id/$change-key',
      async (patientId, body, network) =>
        (
          await changePatientKey(service, {
            patientId,
            newAddress: body.newAddress,
            signature: body.signature,
            newSignature: body.newSignature,
            deadline: body.deadline,
            network,
          })
        ).patient,
    );
    identityRoute(
      '/fhir/Patient/:id/$claim',
      async (patientId, body, network) =>
        (
          await claimPatient(service, {
            patientId,
            claimCode: body.claimCode,
            newAddress: body.newAddress,
            signature: body.signature,
            network,
          })
        ).patient,
    );
  });
}
