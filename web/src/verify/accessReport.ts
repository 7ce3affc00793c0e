/**
 * The patient's access report, read into rows and checked in this browser: every entry goes
 * through src/verify/standaloneReportCheck.ts — the event's content against its commitment, the
 * leaf, the Merkle proof up to the batch root, that root against the Anchors contract and the
 * anchoring transaction's RootAnchored event — over the node's read-only chain window.
 */
import { standaloneReportCheck } from '../../../src/verify/standaloneReportCheck.ts';
import { fhir } from '../api.ts';
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
}

export interface CheckedReport {
  rows: AccessRow[];
  chainId: number | undefined;
  verified: number;
  pending: number;
  failed: number;
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
  };
}

export async function checkedAccessReport(patientId: string): Promise<CheckedReport> {
  const report = await fhir<{ entry?: { resource: Resource }[] }>(
    `Patient/${encodeURIComponent(patientId)}/$access-report`,
  );
  const result = await standaloneReportCheck(report, { publicClient: chainClient() });
  const byEvent = new Map(result.entries.map((r) => [r.event, r]));
  const rows = (report.entry ?? []).map((entry) => {
    const checked = byEvent.get(`AuditEvent/${entry.resource.id}`);
    return {
      ...rowOf(entry.resource),
      verification: checked?.status ?? 'failed',
      problems: checked?.problems ?? ['not checked'],
    } satisfies AccessRow;
  });
  rows.reverse(); // newest first
  return {
    rows,
    chainId: result.chainId,
    verified: result.verified,
    pending: result.pending,
    failed: result.failed,
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
