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
  const versions = await repo.service.ctx.vault.reader().versions({
    resourceType,
    since: since && !Number.isNaN(Date.parse(since)) ? new Date(since).toISOString() : undefined,
    limit: count * 4,
  });
  const rows = versions.filter((v) => !v.deleted && !v.erased);
  const entries: BundleEntry[] = [];
  for (const row of rows) {
    if (entries.length >= count) break;
    let resource: Resource;
    try {
      resource = await repo.readVersion(row.resourceType, row.id, String(row.versionId));
    } catch {
      continue; // not allowed, or gone since: left out
    }
    entries.push(
      repo.service.historyEntry({
        deleted: false,
        resource: resource as never,
        versionId: row.versionId,
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
