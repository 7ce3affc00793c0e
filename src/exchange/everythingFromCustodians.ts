/**
 * The hook of `GET /fhir/Patient/{id}/$everything` into the exchange: after the local records,
 * the records other custodians hold under the patient's grants to this node, each verified
 * against its custodian's anchors, with their Provenance, and one OperationOutcome entry
 * (search mode `outcome`) saying what was refused, rejected or not yet anchored.
 * `remote=false` asks for the local records only. See docs/exchange.md.
 */
import type { FhirRequest } from '@medplum/fhir-router';
import type { BundleEntry, Resource } from '@medplum/fhirtypes';
import { purposeIndex } from '../chain/consentCodes.ts';
import type { FhirService } from '../fhir/FhirService.ts';
import { patientAddressOf } from '../fhir/patientCompartment.ts';
import { fetchPatientRecords } from './fetchPatientRecords.ts';

export async function everythingFromCustodians(
  service: FhirService,
  patient: Resource,
  req: Pick<FhirRequest, 'query' | 'headers'>,
): Promise<BundleEntry[]> {
  const remote = req.query.remote;
  if ((Array.isArray(remote) ? remote[0] : remote) === 'false') return [];
  if (patient.resourceType !== 'Patient' || !patient.id) return [];
  const patientAddress = patientAddressOf(patient);
  if (!patientAddress) return [];
  const header = req.headers?.['x-purpose-of-use'];
  const asked = (Array.isArray(header) ? header[0] : header)?.trim();
  const purpose = asked && purposeIndex(asked) !== undefined ? asked : 'TREAT';
  const { entries, issues } = await fetchPatientRecords(service.ctx, {
    patientId: patient.id,
    patientAddress,
    purpose,
  });
  if (issues.length === 0) return entries;
  return [
    ...entries,
    { resource: { resourceType: 'OperationOutcome', issue: issues }, search: { mode: 'outcome' } },
  ];
}
