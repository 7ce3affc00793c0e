/**
 * Which record versions an export job reads: per resource, the version current at the job's
 * transaction time (so the export is one consistent snapshot even while writes continue), left
 * out when that version is a deletion or erased, or (with `_since`) older than `_since`.
 * Patient and Group level narrow this to the patient compartment: all patients' (types of the
 * compartment), or given patients' (resources whose blind index references them).
 * @see https://hl7.org/fhir/uv/bulkdata/export.html
 */

import type { Principal } from '../../access/Principal.ts';
import { scopeAllows } from '../../access/scopes.ts';
import type { Queryable } from '../../store/db.ts';
import type { FhirService } from '../FhirService.ts';
import { compartmentParams } from '../patientCompartment.ts';
import { patientCompartmentCandidates } from '../search/lookupCandidates.ts';
import type { ExportParameters } from './exportParameters.ts';

export interface ExportVersion {
  resourceType: string;
  id: string;
  versionId: number;
}

export interface SelectExportVersionsParameters {
  parameters: ExportParameters;
  transactionTime: string;
  principal: Principal;
  /** Patient and Group level: only these patients (undefined: every patient). */
  patients?: readonly string[];
}

export async function selectExportVersions(
  service: FhirService,
  q: Queryable,
  input: SelectExportVersionsParameters,
): Promise<ExportVersion[]> {
  const { parameters, principal } = input;
  const compartmentOnly = parameters.level !== 'system';
  const rows = await service.ctx.vault.reader(q).currentAt(input.transactionTime, parameters.types);
  let members: Set<string> | undefined;
  if (input.patients) {
    members = new Set<string>();
    for (const patient of input.patients) {
      members.add(`Patient/${patient}`);
      for (const r of await patientCompartmentCandidates(q, service.key, patient))
        members.add(`${r.resourceType}/${r.id}`);
    }
  }
  const since = parameters.since ? Date.parse(parameters.since) : undefined;
  const readable = new Map<string, boolean>();
  const mayRead = (type: string) => {
    let ok = readable.get(type);
    if (ok === undefined) {
      // Scopes first (cheap); consent is decided per resource when it is read.
      ok = scopeAllows(principal.scopes, {
        context: principal.context,
        resourceType: type,
        interaction: 'r',
      });
      if (ok && compartmentOnly) ok = type === 'Patient' || compartmentParams(type) !== undefined;
      readable.set(type, ok);
    }
    return ok;
  };
  return rows
    .filter(
      (r) =>
        !r.deleted &&
        !r.erased &&
        (since === undefined || new Date(r.lastUpdated).getTime() > since) &&
        mayRead(r.resourceType) &&
        (members === undefined || members.has(`${r.resourceType}/${r.id}`)),
    )
    .map((r) => ({ resourceType: r.resourceType, id: r.id, versionId: r.versionId }));
}
