/**
 * The inclusion proofs of a patient's record versions in one request, so the portal can mark
 * every entry of a timeline as anchored without one audited `$proof` call per record. Access is
 * decided as for `$proof` (as private as the version itself): once per resource type named,
 * each decision one audit event listing the versions; versions outside the patient's
 * compartment are answered as not found.
 */
import type { FastifyRequest } from 'fastify';
import type { AuditContext } from '../audit/AuditContext.ts';
import { recordVersionProof } from '../audit/recordVersionProof.ts';
import type { FhirService } from '../fhir/FhirService.ts';
import { compartmentPatients } from '../fhir/patientCompartment.ts';
import { forPatient } from '../fhir/patientRoute.ts';
import { OPEN_GUARD } from '../fhir/ResourceGuard.ts';
import { VaultRepository } from '../fhir/VaultRepository.ts';
import type { RecordProofAnswer } from './PortalApi.ts';
import { PortalError, refusedBy } from './PortalError.ts';

const VERSION_REFERENCE = /^([A-Z][A-Za-z]{1,63})\/([A-Za-z0-9\-.]{1,64})\/_history\/(\d{1,9})$/;
const MAX_VERSIONS = 2000;

export async function recordProofs(
  service: FhirService,
  audit: AuditContext,
  request: FastifyRequest,
  patientId: string,
  versions: unknown,
): Promise<RecordProofAnswer[]> {
  if (!Array.isArray(versions) || versions.length === 0 || versions.length > MAX_VERSIONS)
    throw new PortalError(
      'ERR_PORTAL_INVALID',
      `versions must be a list of 1 to ${MAX_VERSIONS} Type/id/_history/vid references`,
    );
  const byType = new Map<string, { reference: string; id: string; vid: string }[]>();
  for (const reference of versions) {
    const match = typeof reference === 'string' ? VERSION_REFERENCE.exec(reference) : null;
    if (!match) throw new PortalError('ERR_PORTAL_INVALID', `not a version reference: ${String(reference)}`);
    const [, type, id, vid] = match as unknown as [string, string, string, string];
    byType.set(type, [...(byType.get(type) ?? []), { reference, id, vid }]);
  }
  const repo = new VaultRepository(service, OPEN_GUARD);
  const answers: RecordProofAnswer[] = [];
  /** The refusals of whole types: when every type was refused alike, the request is (401, 403, 404). */
  const refusals = new Set<number>();
  let decidedAllowed = false;
  for (const [resourceType, list] of byType) {
    const answer = await forPatient(
      service,
      request,
      patientId,
      {
        resourceType,
        interaction: 'r',
        subtype: 'operation',
        resources: list.map((v) => `${v.reference}/$proof`),
        refusedAsNotFound: true,
      },
      async () => {
        decidedAllowed = true;
        for (const { reference, id, vid } of list) {
          const resource = await repo.peek(resourceType, id);
          if (!resource || !compartmentPatients(resource).includes(patientId)) {
            answers.push({
              version: reference,
              status: 'not-found',
              reason: 'not in this patient’s records',
            });
            continue;
          }
          const proof = await recordVersionProof(
            audit,
            service.ctx.vault.reader(),
            resourceType,
            id,
            vid,
          ).catch(() => undefined);
          answers.push(
            proof
              ? { version: reference, status: 'proof', proof: proof.proof }
              : { version: reference, status: 'not-found', reason: 'no such version' },
          );
        }
        return { status: 200, body: { resourceType: 'Basic' } as never };
      },
    );
    if (answer.status !== 200) {
      refusals.add(answer.status);
      const reason = answer.status === 404 ? 'not found' : `access refused (${answer.status})`;
      for (const { reference } of list)
        answers.push({ version: reference, status: answer.status === 404 ? 'not-found' : 'refused', reason });
    }
  }
  const [only] = refusals;
  if (!decidedAllowed && refusals.size === 1 && (only === 401 || only === 403 || only === 404))
    throw refusedBy(
      only,
      only === 401 ? 'no valid access token' : only === 404 ? 'not found' : 'access refused',
    );
  return answers;
}
