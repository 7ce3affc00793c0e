/**
 * Type and system history (`GET /fhir/Observation/_history`, `GET /fhir/_history`): the newest
 * versions first, each read through the vault and decided on its own content for every patient
 * of it (a deletion on the content it removed). Versions the caller may not see are left out as
 * if they did not exist.
 * @see https://hl7.org/fhir/R4/http.html#history
 */
import { allOk, badRequest, OperationOutcomeError } from '@medplum/core';
import type { FhirRequest, FhirResponse } from '@medplum/fhir-router';
import type { Bundle, BundleEntry, BundleLink } from '@medplum/fhirtypes';
import type { HistoryEntry } from '../../vault/types.ts';
import type { VaultRepository } from '../VaultRepository.ts';
import { inHistoryWindow, parseHistoryWindow } from './historyWindow.ts';

const MAX = 1000;
/** Versions read per statement while a page fills (a caller may see few of them). */
const SCAN = 500;

/**
 * One page of history, newest first, within `_since` / `_at` (historyWindow.ts): up to `_count` (default 100, at most 1000) visible versions,
 * deletions included. A `next` link continues after the last version this page looked at
 * (`_cursor`, a write position), so a client paging through sees every visible version once, even
 * while new ones are written. `total` is left out (R4 allows it for history): counting what a
 * caller may see would read every version.
 */
export async function historyAcross(req: FhirRequest, repo: VaultRepository): Promise<FhirResponse> {
  const resourceType = req.params.resourceType;
  const rawCount = one(req.query._count);
  const count = rawCount === undefined ? 100 : Number(rawCount);
  if (!Number.isInteger(count) || count < 1)
    throw new OperationOutcomeError(badRequest('_count must be a whole number from 1'));
  const pageSize = Math.min(MAX, count);
  const since = one(req.query._since);
  const at = one(req.query._at);
  const window = parseHistoryWindow(req.query);
  const cursor = one(req.query._cursor);
  if (cursor !== undefined && !/^[0-9]{1,19}$/.test(cursor))
    throw new OperationOutcomeError(badRequest('_cursor is not valid'));
  const reader = repo.service.ctx.vault.reader();
  const entries: BundleEntry[] = [];
  let before = cursor;
  let more = false;
  scan: for (;;) {
    const versions = await reader.versions({
      resourceType,
      since: window.since?.toISOString(),
      // `_at`: written before the period ends (and, checked below, not replaced before it began).
      until: window.at ? new Date(window.at.end.getTime() - 1).toISOString() : undefined,
      beforeSeq: before,
      limit: SCAN,
    });
    for (const ref of versions) {
      if (entries.length >= pageSize) {
        more = true;
        break scan;
      }
      before = ref.seq;
      if (ref.erased) continue;
      let version: HistoryEntry;
      try {
        version = await reader.version(ref.resourceType, ref.id, ref.versionId);
      } catch (error) {
        const code = (error as { code?: string }).code;
        if (code === 'ERR_GONE' || code === 'ERR_NOT_FOUND') continue; // erased since: left out
        throw error;
      }
      if (window.at) {
        const next = await reader
          .version(ref.resourceType, ref.id, ref.versionId + 1)
          .then((n) => n.lastUpdated)
          .catch(() => undefined);
        if (!inHistoryWindow(window, version.lastUpdated, next)) continue;
      }
      const [visible] = await repo.visibleHistory([version]);
      if (visible) entries.push(repo.historyEntry(visible));
    }
    if (versions.length < SCAN) break;
  }
  const base = `${repo.service.baseUrl}/${resourceType ? `${resourceType}/` : ''}_history`;
  const query = (extra: Record<string, string>) => {
    const params = new URLSearchParams({
      _count: String(pageSize),
      ...(since ? { _since: since } : {}),
      ...(at ? { _at: at } : {}),
      ...extra,
    });
    return `${base}?${params}`;
  };
  const link: BundleLink[] = [{ relation: 'self', url: query(cursor ? { _cursor: cursor } : {}) }];
  if (more && before !== undefined) link.push({ relation: 'next', url: query({ _cursor: before }) });
  const bundle: Bundle = {
    resourceType: 'Bundle',
    type: 'history',
    link,
    ...(entries.length ? { entry: entries } : {}),
  };
  return [allOk, bundle];
}

function one(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[value.length - 1] : value;
}
