/**
 * `Patient/{id}/$everything`: the patient and every resource in their compartment that the
 * caller may read. Candidates are the resources whose blind index references `Patient/{id}`
 * (one index look-up across all types); each is read, verified, checked for compartment
 * membership and filtered by access, then by the operation's parameters (`start`, `end`,
 * `_since`, `_type`, paging with `_count` and `_offset`: everythingParameters.ts). `remote=false`
 * asks for local records only (docs/exchange.md); the records other custodians hold are filtered
 * the same way and come with the last page.
 * @see https://hl7.org/fhir/R4/patient-operation-everything.html
 */
import { allOk, notFound, OperationOutcomeError } from '@medplum/core';
import type { FhirRequest, FhirResponse } from '@medplum/fhir-router';
import type { BundleEntry, BundleLink, Resource } from '@medplum/fhirtypes';
import { compartmentParams, compartmentPatients } from '../patientCompartment.ts';
import { patientCompartmentCandidates } from '../search/lookupCandidates.ts';
import type { VaultRepository } from '../VaultRepository.ts';
import {
  type EverythingParameters,
  keptByEverything,
  parseEverythingParameters,
} from './everythingParameters.ts';

export async function everything(req: FhirRequest, repo: VaultRepository): Promise<FhirResponse> {
  const parameters = parseEverythingParameters(req.query ?? {});
  const patientId = req.params.id as string;
  const patient = await repo.readAllowed('Patient', patientId);
  if (!patient) throw new OperationOutcomeError(notFound);
  const { service } = repo;
  const matches: Resource[] = keptByEverything(parameters, patient) ? [patient] : [];
  const candidates = await patientCompartmentCandidates(service.ctx.db, service.key, patientId);
  candidates.sort((a, b) => a.resourceType.localeCompare(b.resourceType) || a.id.localeCompare(b.id));
  for (const { resourceType, id } of candidates) {
    if (!compartmentParams(resourceType)) continue;
    const resource = await repo.readAllowed(resourceType, id);
    if (
      resource &&
      compartmentPatients(resource).includes(patientId) &&
      keptByEverything(parameters, resource)
    )
      matches.push(resource);
  }
  const total = matches.length;
  const { offset, count } = parameters;
  const page = count === undefined ? matches.slice(offset) : matches.slice(offset, offset + count);
  const entry = page.map((resource) => entryOf(service.baseUrl, resource));
  const self = `${service.baseUrl}/Patient/${patientId}/$everything`;
  const link: BundleLink[] = [{ relation: 'self', url: linkTo(self, req.query, offset) }];
  const last = count === undefined || offset + count >= total;
  if (!last) link.push({ relation: 'next', url: linkTo(self, req.query, offset + (count as number)) });
  // Records other custodians hold under the patient's grants to this node, verified
  // (src/exchange), filtered alike, with the last page.
  if (last) entry.push(...remoteKept(parameters, (await service.remoteRecords?.(patient, req)) ?? []));
  return [allOk, { resourceType: 'Bundle', type: 'searchset', total, link, entry }];
}

/**
 * The custodians' entries the parameters keep: their records by the same filter, each Provenance
 * with a kept record, and the OperationOutcome saying what was refused.
 */
function remoteKept(parameters: EverythingParameters, entries: BundleEntry[]): BundleEntry[] {
  const records = entries.filter(
    (e) => e.resource && !['Provenance', 'OperationOutcome'].includes(e.resource.resourceType),
  );
  const kept = new Set(
    records
      .filter((e) => keptByEverything(parameters, e.resource as Resource))
      .map((e) => `${e.resource?.resourceType}/${e.resource?.id}`),
  );
  return entries.filter((e) => {
    const resource = e.resource;
    if (!resource) return false;
    if (resource.resourceType === 'OperationOutcome') return true;
    if (resource.resourceType === 'Provenance')
      return (resource.target ?? []).some((t) =>
        kept.has(/([A-Za-z]+\/[^/]+)(?:\/_history\/[^/]+)?$/.exec(t.reference ?? '')?.[1] ?? ''),
      );
    return kept.has(`${resource.resourceType}/${resource.id}`);
  });
}

/** The operation's URL with the request's own parameters and the page's offset. */
function linkTo(base: string, query: Record<string, unknown> | undefined, offset: number): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query ?? {})) {
    if (name === '_offset') continue;
    for (const v of Array.isArray(value) ? value : [value]) params.append(name, String(v));
  }
  if (offset > 0) params.set('_offset', String(offset));
  const text = params.toString();
  return text ? `${base}?${text}` : base;
}

function entryOf(baseUrl: string, resource: Resource): BundleEntry {
  return {
    fullUrl: `${baseUrl}/${resource.resourceType}/${resource.id}`,
    resource,
    search: { mode: 'match' },
  };
}
