/**
 * The patient's access report, read into rows and checked in this browser: every entry goes
 * through src/verify/standaloneReportCheck.ts (reached through src/portal/PortalApi.ts) — the event's content against its commitment, the
 * leaf, the Merkle proof up to the batch root, that root against the Anchors contract and the
 * anchoring transaction's RootAnchored event — over the node's read-only chain window.
 */
import { standaloneReportCheck } from '../../../src/portal/PortalApi.ts';
import { fhir } from '../api.ts';
import { onSessionEnd } from '../auth/session.ts';
import type { Loose, Resource } from '../fhir/records.ts';
import { chainClient } from './chainClient.ts';

const BREAK_GLASS_EXTENSION = 'https://medledger.dev/fhir/StructureDefinition/break-glass-reason';

export interface AccessRow {
  id: string;
  when: string;
  /** Username, fhirUser or address of the requester. */
  who: string;
  whoAddress: string | undefined;
  /** What was asked: the interaction and the resources. */
  what: string;
  purpose: string;
  allowed: boolean;
  outcomeText: string | undefined;
  breakGlassReason: string | undefined;
  emergency: boolean;
  verification: 'verified' | 'pending' | 'failed';
  problems: string[];
  /** What the event named (references, operation paths), the patient's own reference left out. */
  resources: string[];
  /** The basis the node decided on (own-record, grant, delegate, emergency, …). */
  basis: string | undefined;
  /** A grant, revocation or delegation signed and sent (`$grant`, `$revoke`, `$delegate`). */
  consentChange: 'grant' | 'revoke' | 'delegate' | undefined;
  /** A consent message prepared for signing (`$consent-typed-data`): the change and its party. */
  prepares: { kind: 'grant' | 'revoke' | 'delegate'; party: string | undefined } | undefined;
  /** Done by a delegate for the patient. */
  onBehalf: boolean;
}

export interface CheckedReport {
  rows: AccessRow[];
  chainId: number | undefined;
  verified: number;
  pending: number;
  failed: number;
  /** Entries checked against the chain by this call (the others had a final verdict already). */
  checkedNow: number;
}

const CONSENT_DECISION = 'https://medledger.dev/fhir/StructureDefinition/consent-decision';

/** The query an event recorded (base64 in the entity), as search parameters. */
function queryOf(e: Resource): URLSearchParams {
  const encoded = (e.entity ?? []).find((x: Loose) => typeof x.query === 'string')?.query as
    | string
    | undefined;
  if (!encoded) return new URLSearchParams();
  try {
    return new URLSearchParams(atob(encoded));
  } catch {
    return new URLSearchParams();
  }
}

function rowOf(e: Resource): Omit<AccessRow, 'verification' | 'problems'> {
  const requester = (e.agent ?? []).find((a: Loose) => a.requestor) ?? e.agent?.[0];
  const identifier: string | undefined = requester?.who?.identifier?.value;
  const address = identifier?.startsWith('urn:eip155:') ? identifier.slice('urn:eip155:'.length) : undefined;
  const who =
    requester?.altId ?? requester?.who?.reference ?? requester?.who?.display ?? identifier ?? 'unknown';
  const resources: string[] = (e.entity ?? [])
    .filter((x: Loose) => x.what?.reference && x.role?.code !== '1')
    .map((x: Loose) => x.what.reference as string);
  const subtype = e.subtype?.[0]?.code ?? e.action;
  const purpose = e.purposeOfEvent?.[0]?.coding?.[0]?.code ?? '';
  const reason = (e.extension ?? []).find((x: Loose) => x.url === BREAK_GLASS_EXTENSION)?.valueString;
  const basis: string | undefined = (e.extension ?? [])
    .find((x: Loose) => x.url === CONSENT_DECISION)
    ?.extension?.find((x: Loose) => x.url === 'basis')?.valueCode;
  const query = queryOf(e);
  const action = query.get('action');
  const prepares: AccessRow['prepares'] =
    (action === 'grant' || action === 'revoke') && query.get('grantee')
      ? { kind: action, party: query.get('grantee')?.toLowerCase() }
      : query.get('delegate')
        ? { kind: 'delegate' as const, party: query.get('delegate')?.toLowerCase() }
        : undefined;
  const patientOnly = resources.length > 0 && resources.every((r) => /^Patient\/[^/]+$/.test(r));
  const consentChange =
    subtype === 'operation' &&
    e.outcome === '0' &&
    patientOnly &&
    !prepares &&
    (basis === 'own-record' || basis === 'delegate') &&
    (e.action === 'C' || e.action === 'U')
      ? e.action === 'U'
        ? ('revoke' as const)
        : query.get('wait') !== null
          ? ('delegate' as const)
          : ('grant' as const)
      : undefined;
  return {
    id: e.id ?? '',
    when: e.recorded,
    who,
    whoAddress: address,
    what: describeWhat(subtype, resources),
    purpose,
    allowed: e.outcome === '0',
    outcomeText: e.outcomeDesc,
    breakGlassReason: reason,
    emergency: purpose === 'ETREAT' || reason !== undefined,
    resources,
    basis,
    consentChange,
    prepares,
    onBehalf: basis === 'delegate',
  };
}

interface ReportCache {
  /** Every entry fetched so far, by event id. */
  entries: Map<string, { resource: Resource; extension?: unknown[] }>;
  /** Final verdicts (verified or failed): an event never changes, so its verdict stands. */
  verdicts: Map<string, { status: 'verified' | 'failed'; problems: string[] }>;
  meta: unknown;
  chainId: number | undefined;
  /** Entries checked and still waiting for their anchor. */
  pending?: Set<string>;
}

const caches = new Map<string, ReportCache>();
onSessionEnd(() => caches.clear());

/** How far back a refresh asks again: events are recorded when a request starts, written when it ends. */
const OVERLAP_MS = 5 * 60 * 1000;

/**
 * The patient's access report, each entry checked in this browser. Kept for the tab's life: a
 * refresh asks the node only for events recorded since the last one seen (or since the oldest
 * still waiting for its anchor), and only entries without a final verdict are checked again.
 */
const inFlight = new Map<string, Promise<CheckedReport>>();

export function checkedAccessReport(patientId: string): Promise<CheckedReport> {
  // One refresh at a time per patient (the report page and the notices share it).
  const running = inFlight.get(patientId);
  if (running) return running;
  const refresh = refreshReport(patientId).finally(() => inFlight.delete(patientId));
  inFlight.set(patientId, refresh);
  return refresh;
}

async function refreshReport(patientId: string): Promise<CheckedReport> {
  let cache = caches.get(patientId);
  const since = cache ? refreshFrom(cache) : undefined;
  const report = await fhir<{ meta?: unknown; entry?: { resource: Resource; extension?: unknown[] }[] }>(
    `Patient/${encodeURIComponent(patientId)}/$access-report${since ? `?start=${encodeURIComponent(since)}` : ''}`,
  );
  if (!cache) {
    cache = { entries: new Map(), verdicts: new Map(), meta: report.meta, chainId: undefined };
    caches.set(patientId, cache);
  }
  for (const entry of report.entry ?? []) cache.entries.set(String(entry.resource.id), entry);
  const entries = cache.entries;
  const verdicts = cache.verdicts;
  const unchecked = [...entries.values()].filter((e) => !verdicts.has(String(e.resource.id)));
  if (unchecked.length > 0 || cache.chainId === undefined) {
    const result = await standaloneReportCheck(
      { resourceType: 'Bundle', type: 'collection', meta: report.meta ?? cache.meta, entry: unchecked },
      { publicClient: chainClient() },
    );
    cache.chainId = result.chainId;
    cache.pending = new Set();
    for (const r of result.entries) {
      const id = r.event.replace(/^AuditEvent\//, '');
      if (r.status === 'pending') cache.pending.add(id);
      else cache.verdicts.set(id, { status: r.status, problems: r.problems });
    }
  }
  return rowsOf(cache, unchecked.length);
}

function refreshFrom(cache: ReportCache): string | undefined {
  const times = [...cache.entries.values()]
    .filter((e) => !cache.verdicts.has(String(e.resource.id)))
    .map((e) => Date.parse(e.resource.recorded));
  const latest = Math.max(0, ...[...cache.entries.values()].map((e) => Date.parse(e.resource.recorded)));
  const from = Math.min(latest, ...times) - OVERLAP_MS;
  return from > 0 ? new Date(from).toISOString() : undefined;
}

function rowsOf(cache: ReportCache, checkedNow: number): CheckedReport {
  const rows: AccessRow[] = [...cache.entries.values()].map((entry) => {
    const id = String(entry.resource.id);
    const verdict = cache.verdicts.get(id);
    return {
      ...rowOf(entry.resource),
      verification: verdict?.status ?? (cache.pending?.has(id) ? 'pending' : 'failed'),
      problems: verdict?.problems ?? (cache.pending?.has(id) ? [] : ['not checked']),
    } satisfies AccessRow;
  });
  rows.sort((a, b) => b.when.localeCompare(a.when) || Number(b.id) - Number(a.id)); // newest first
  return {
    rows,
    chainId: cache.chainId,
    verified: rows.filter((r) => r.verification === 'verified').length,
    pending: rows.filter((r) => r.verification === 'pending').length,
    failed: rows.filter((r) => r.verification === 'failed').length,
    checkedNow,
  };
}

const shortRef = (reference: string) => reference.replace(/\/([A-Za-z0-9-]{8})[A-Za-z0-9-]{5,}/g, '/$1…');

/** "all records", "access report", "read Observation/1a2b3c4d…", in words a patient reads. */
export function describeWhat(subtype: string, resources: readonly string[]): string {
  const first = resources[0] ?? '';
  if (first.endsWith('/$everything')) return 'all records';
  if (first.endsWith('/$access-report')) return 'the access report';
  if (resources.length > 0 && resources.every((r) => r.endsWith('/$proof')))
    return `proofs of ${resources.length} record${resources.length === 1 ? '' : 's'}`;
  if (
    first.includes('$grant') ||
    first.includes('$revoke') ||
    (subtype === 'operation' && first.includes('Consent'))
  )
    return 'consent change';
  const verb =
    {
      read: 'read',
      vread: 'read',
      'search-type': 'search',
      search: 'search',
      create: 'create',
      update: 'update',
      delete: 'delete',
    }[subtype] ?? subtype;
  if (resources.length === 0) return verb;
  const shown = resources.slice(0, 2).map(shortRef).join(', ');
  return `${verb} ${shown}${resources.length > 2 ? ` and ${resources.length - 2} more` : ''}`;
}
