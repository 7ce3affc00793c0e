/**
 * Patient compartment search: `GET /fhir/Patient/{id}/Observation?...` is the type search
 * limited to resources in that patient's compartment.
 * @see https://hl7.org/fhir/R4/compartmentdefinition.html
 */
import { allOk, badRequest, OperationOutcomeError, parseSearchRequest } from '@medplum/core';
import type { FhirRequest, FhirResponse } from '@medplum/fhir-router';
import type { ResourceType } from '@medplum/fhirtypes';
import { compartmentParams } from '../patientCompartment.ts';
import type { VaultRepository } from '../VaultRepository.ts';

export async function compartmentSearch(req: FhirRequest, repo: VaultRepository): Promise<FhirResponse> {
  const { id, compartmentType } = req.params as { id: string; compartmentType: string };
  if (compartmentType !== 'Patient' && !compartmentParams(compartmentType))
    throw new OperationOutcomeError(badRequest(`${compartmentType} is not in the Patient compartment`));
  const request = parseSearchRequest(compartmentType as ResourceType, req.query);
  return [allOk, await repo.search(request, { compartmentPatient: id })];
}
