/**
 * The access report in words: the audit events about one patient, grouped by who, day, what and
 * why ("dr.ada viewed 113 of your records on 4 Dec 2026 for treatment"). A records view is one
 * `$everything` and the proofs of what it showed: one line, counting the distinct records. Consent
 * changes (grants, revocations, delegations) are lines of their own, named with the grantee the
 * signed message was prepared for. The patient's own activity (their reads, their key set-up and
 * claim attempts, the portal's own requests for them) is hidden unless asked for; what the
 * institution's systems did (the import) is explained.
 */
import type { AccessRow } from './accessReport.ts';

export type AccessCategory =
  | 'viewed'
  | 'refused'
  | 'emergency'
  | 'consent'
  | 'import'
  | 'review'
  | 'report'
  | 'key'
  | 'other';

export const CATEGORY_WORDS: Readonly<Record<AccessCategory, string>> = {
  viewed: 'Records viewed',
  refused: 'Refused requests',
  emergency: 'Emergency access',
  consent: 'Consent changes',
  import: 'Records added',
  review: 'Privacy reviews',
  report: 'Access report read',
  key: 'Your key',
  other: 'Other',
};

export interface AccessGroup {
  key: string;
  /** The requester as the report names them (a username, an address). */
  who: string;
  /** The day (YYYY-MM-DD, local) of the group's first event. */
  day: string;
  first: string;
  last: string;
  category: AccessCategory;
  purpose: string;
  allowed: boolean;
  emergency: boolean;
  own: boolean;
  /** The distinct records the group's events named. */
  records: number;
  rows: AccessRow[];
  reason: string | undefined;
  /** Consent changes: the grantee or delegate the change named, and the change. */
  change: { kind: 'grant' | 'revoke' | 'delegate'; party: string | undefined } | undefined;
  verification: 'verified' | 'pending' | 'failed';
}

const RECORD = /^([A-Z][A-Za-z]+)\/([A-Za-z0-9.-]+)(?:\/_history\/\d+)?(?:\/\$proof)?$/;

/** What one event was, for the patient. */
export function categoryOf(row: AccessRow, own: boolean): AccessCategory {
  const first = row.resources[0] ?? '';
  if (row.resources.some((r) => r.startsWith('urn:medledger:import:'))) return 'import';
  if (row.resources.some((r) => r.startsWith('portal/break-glass-review/'))) return 'review';
  if (!row.allowed && !own) return 'refused';
  if (row.emergency && !own) return 'emergency';
  if (/\$claim|claimed by/.test(`${first} ${row.outcomeText ?? ''}`)) return 'key';
  if (row.consentChange) return 'consent';
  if (first.endsWith('/$access-report')) return 'report';
  if (row.resources.some((r) => RECORD.test(r)) || row.what === 'all records')
    return own ? 'other' : 'viewed';
  return 'other';
}

/** The day of an instant in the browser's time zone. */
const dayOf = (iso: string) => {
  const d = new Date(iso);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
};

/**
 * Groups the rows (any order) newest first. `isOwn` says which requesters are the patient
 * themselves (their username, their key's address).
 */
export function groupAccess(rows: readonly AccessRow[], isOwn: (row: AccessRow) => boolean): AccessGroup[] {
  const sorted = [...rows].sort((a, b) => a.when.localeCompare(b.when));
  const groups = new Map<string, AccessGroup & { seen: Set<string> }>();
  // The consent message prepared last by each requester: the change that follows it names its party.
  const prepared = new Map<string, { kind: 'grant' | 'revoke' | 'delegate'; party: string | undefined }>();
  for (const row of sorted) {
    const own = isOwn(row);
    if (row.prepares) {
      prepared.set(row.who, row.prepares);
      if (own || row.onBehalf) continue; // preparing a message changes nothing: no line of its own
    }
    const category = categoryOf(row, own);
    const change = category === 'consent' ? prepared.get(row.who) : undefined;
    if (category === 'consent') prepared.delete(row.who);
    const day = dayOf(row.when);
    // Each consent change is its own line; views group by who, day, purpose and decision.
    const key =
      category === 'consent' || category === 'review'
        ? `${row.id}`
        : [row.who, day, category, row.purpose, row.allowed].join('|');
    let group = groups.get(key);
    if (!group) {
      group = {
        key,
        who: row.who,
        day,
        first: row.when,
        last: row.when,
        category,
        purpose: row.purpose,
        allowed: row.allowed,
        emergency: row.emergency,
        own,
        records: 0,
        rows: [],
        reason: row.breakGlassReason,
        change:
          category === 'consent' ? (change ?? { kind: row.consentChange!, party: undefined }) : undefined,
        verification: 'verified',
        seen: new Set(),
      };
      groups.set(key, group);
    }
    group.rows.push(row);
    group.last = row.when;
    group.reason ??= row.breakGlassReason;
    for (const r of row.resources) {
      const m = RECORD.exec(r);
      if (m && !r.endsWith('/$everything')) group.seen.add(`${m[1]}/${m[2]}`);
    }
    group.records = group.seen.size;
    if (row.verification === 'failed') group.verification = 'failed';
    else if (row.verification === 'pending' && group.verification === 'verified')
      group.verification = 'pending';
  }
  return [...groups.values()]
    .map(({ seen: _seen, ...g }) => g)
    .sort((a, b) => b.last.localeCompare(a.last) || b.key.localeCompare(a.key));
}

const PURPOSE = (purpose: string, words: Readonly<Record<string, string>>) => words[purpose] ?? purpose;

/** One sentence for a group, with the names the portal knows. */
export function sentenceOf(
  g: AccessGroup,
  name: (who: string) => string,
  on: string,
  purposes: Readonly<Record<string, string>>,
  institution: string,
): string {
  const who = g.own ? 'You' : name(g.who);
  const records = `${g.records} of your records`;
  switch (g.category) {
    case 'viewed':
      return `${who} viewed ${g.records > 0 ? records : 'your records'} on ${on} for ${PURPOSE(g.purpose, purposes)}`;
    case 'emergency':
      return `${who} used emergency access (break-glass)${g.records > 0 ? ` and viewed ${records}` : ''} on ${on}`;
    case 'refused':
      return `${who} asked for your records on ${on} for ${PURPOSE(g.purpose, purposes)} and was refused`;
    case 'consent': {
      const party = g.change?.party === undefined ? 'a clinician' : name(g.change.party);
      const actor = g.own ? 'You' : `${who}, your delegate,`;
      if (g.change?.kind === 'revoke') return `${actor} took back the access of ${party} on ${on}`;
      if (g.change?.kind === 'delegate')
        return `${actor} appointed ${party} to manage your consents on ${on}`;
      return `${actor} gave ${party} access to your records on ${on}`;
    }
    case 'import':
      return `${institution} added your records to this portal on ${on} (import by the records office, ${name(g.who)})`;
    case 'review':
      return `${who}, privacy officer, reviewed an emergency access to your records on ${on}`;
    case 'report':
      return `${who} read ${g.own ? 'your' : 'the'} access report on ${on}`;
    case 'key':
      return g.allowed
        ? `${who} set up your key and bound it to your record on ${on}`
        : `A claim code was tried for your record on ${on} and refused (a mistyped code changes nothing)`;
    default:
      return `${who} ${g.rows[0]?.what ?? 'used the portal'} on ${on}`;
  }
}
