/**
 * Type and system history (`GET /fhir/Observation/_history`, `GET /fhir/_history`): the newest
 * versions first, each read through the vault and filtered by the caller's access. Deleted
 * versions are left out here (their compartment cannot be decided without content);
 * instance history shows them.
 * @see https://hl7.org/fhir/R4/http.html#history
 */
import { allOk } from '@medplum/core';
import type { FhirRequest, FhirResponse } from '@medplum/fhir-router';
import type { BundleEntry, Resource } from '@medplum/fhirtypes';
import type { VaultRepository } from '../VaultRepository.ts';
import { historyBundle } from '../VaultRepository.ts';

const MAX = 1000;

export async function historyAcross(req: FhirRequest, repo: VaultRepository): Promise<FhirResponse> {
  const resourceType = req.params.resourceType;
  const count = Math.min(MAX, Math.max(1, Number(one(req.query._count) ?? 100) || 100));
  const since = one(req.query._since);
  const params: (string | number)[] = [count * 4];
  let where = 'deleted = false AND erased_at IS NULL';
  if (resourceType) {
    params.push(resourceType);
    where += ` AND resource_type = $${params.length}`;
  }
  if (since && !Number.isNaN(Date.parse(since))) {
    params.push(new Date(since).toISOString());
    where += ` AND last_updated >= $${params.length}`;
  }
  const rows = await repo.service.ctx.db.query<{
    resource_type: string;
    resource_id: string;
    version_id: number;
  }>(
    `SELECT resource_type, resource_id, version_id FROM record_versions WHERE ${where} ORDER BY seq DESC LIMIT $1`,
    params,
  );
  const entries: BundleEntry[] = [];
  for (const row of rows) {
    if (entries.length >= count) break;
    let resource: Resource;
    try {
      resource = await repo.readVersion(row.resource_type, row.resource_id, String(row.version_id));
    } catch {
      continue; // not allowed, or gone since: left out
    }
    entries.push(
      repo.service.historyEntry({
        deleted: false,
        resource: resource as never,
        versionId: row.version_id,
        lastUpdated: resource.meta?.lastUpdated ?? '',
        anchor: { status: 'pending', leaf: '0x' },
      }),
    );
  }
  return [allOk, historyBundle(entries)];
}

function one(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[value.length - 1] : value;
}
