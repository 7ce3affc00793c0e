/**
 * `Patient/{id}/$everything`: the patient and every resource in their compartment that the
 * caller may read. Candidates are the resources whose blind index references `Patient/{id}`
 * (one index look-up across all types); each is read, verified, checked for compartment
 * membership and filtered by access.
 * It takes `remote=false` (local records only, docs/exchange.md), `_format` and `_pretty`; the
 * spec's `start`, `end`, `_since`, `_type`, `_count` and everything else are refused with 400
 * rather than ignored (a caller would take the whole chart for the part it asked for).
 * @see https://hl7.org/fhir/R4/patient-operation-everything.html
 */
import { allOk, notFound, OperationOutcomeError } from '@medplum/core';
import type { FhirRequest, FhirResponse } from '@medplum/fhir-router';
import type { BundleEntry, Resource } from '@medplum/fhirtypes';
import { everythingFromCustodians } from '../../exchange/everythingFromCustodians.ts';
import { compartmentParams, compartmentPatients } from '../patientCompartment.ts';
import { patientCompartmentCandidates } from '../search/lookupCandidates.ts';
import type { VaultRepository } from '../VaultRepository.ts';

const ANSWERED = new Set(['remote', '_format', '_pretty']);

export async function everything(req: FhirRequest, repo: VaultRepository): Promise<FhirResponse> {
  for (const name of Object.keys(req.query ?? {}))
    if (!ANSWERED.has(name))
      throw new OperationOutcomeError({
        resourceType: 'OperationOutcome',
        issue: [
          {
            severity: 'error',
            code: 'not-supported',
            details: { text: `${name} is not supported on $everything` },
            expression: [name],
          },
        ],
      });
  const patientId = req.params.id as string;
  const patient = await repo.readAllowed('Patient', patientId);
  if (!patient) throw new OperationOutcomeError(notFound);
  const { service } = repo;
  const entry: BundleEntry[] = [entryOf(service.baseUrl, patient)];
  const candidates = await patientCompartmentCandidates(service.ctx.db, service.key, patientId);
  candidates.sort((a, b) => a.resourceType.localeCompare(b.resourceType) || a.id.localeCompare(b.id));
  for (const { resourceType, id } of candidates) {
    if (!compartmentParams(resourceType)) continue;
    const resource = await repo.readAllowed(resourceType, id);
    if (resource && compartmentPatients(resource).includes(patientId))
      entry.push(entryOf(service.baseUrl, resource));
  }
  const total = entry.length;
  // Records other custodians hold under the patient's grants to this node, verified (src/exchange).
  entry.push(...(await everythingFromCustodians(service, patient, req)));
  return [allOk, { resourceType: 'Bundle', type: 'searchset', total, entry }];
}

function entryOf(baseUrl: string, resource: Resource): BundleEntry {
  return {
    fullUrl: `${baseUrl}/${resource.resourceType}/${resource.id}`,
    resource,
    search: { mode: 'match' },
  };
}
