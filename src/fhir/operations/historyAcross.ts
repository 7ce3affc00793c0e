/**
 * Type and system history (`GET /fhir/Observation/_history`, `GET /fhir/_history`): the newest
 * versions first, each read through the vault and decided on its own content for every patient
 * of it (a deletion on the content it removed). Versions the caller may not see are left out as
 * if they did not exist.
 * @see https://hl7.org/fhir/R4/http.html#history
 */
import { allOk } from '@medplum/core';
import type { FhirRequest, FhirResponse } from '@medplum/fhir-router';
import type { BundleEntry } from '@medplum/fhirtypes';
import type { HistoryEntry } from '../../vault/types.ts';
import type { VaultRepository } from '../VaultRepository.ts';
import { historyBundle } from '../VaultRepository.ts';

const MAX = 1000;

export async function historyAcross(req: FhirRequest, repo: VaultRepository): Promise<FhirResponse> {
  const resourceType = req.params.resourceType;
  const count = Math.min(MAX, Math.max(1, Number(one(req.query._count) ?? 100) || 100));
  const since = one(req.query._since);
  const reader = repo.service.ctx.vault.reader();
  const versions = await reader.versions({
    resourceType,
    since: since && !Number.isNaN(Date.parse(since)) ? new Date(since).toISOString() : undefined,
    limit: count * 4,
  });
  const entries: BundleEntry[] = [];
  for (const ref of versions) {
    if (entries.length >= count) break;
    if (ref.erased) continue;
    let version: HistoryEntry;
    try {
      version = await reader.version(ref.resourceType, ref.id, ref.versionId);
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code === 'ERR_GONE' || code === 'ERR_NOT_FOUND') continue; // erased since: left out
      throw error;
    }
    const [visible] = await repo.visibleHistory([version]);
    if (visible) entries.push(repo.historyEntry(visible));
  }
  return [allOk, historyBundle(entries)];
}

function one(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[value.length - 1] : value;
}
