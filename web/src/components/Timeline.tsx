/**
 * A patient's records as a timeline, newest first, filterable by kind. Each entry shows whether
 * this browser verified its version on chain, and where it came from.
 */
import { useMemo, useState } from 'react';
import type { PatientRecords } from '../fhir/loadRecords.ts';
import { TIMELINE_KINDS, type TimelineKind } from '../fhir/records.ts';
import type { RecordCheck } from '../verify/recordProofCheck.ts';
import { Badge, formatDate } from './common.tsx';

const KIND_LABEL: Record<TimelineKind, string> = {
  Encounter: 'Visits',
  Condition: 'Conditions',
  Medication: 'Medications',
  Allergy: 'Allergies',
  Observation: 'Observations',
  Immunization: 'Immunizations',
  Procedure: 'Procedures',
  Report: 'Reports',
};

export function CheckBadge({ check }: { check: RecordCheck | undefined }) {
  if (!check) return <Badge tone="neutral">checking…</Badge>;
  if (check.state === 'verified')
    return (
      <Badge
        tone="ok"
        label={`anchored in batch ${check.batch}${check.block ? `, block ${check.block}` : ''}`}
      >
        Verified on chain
      </Badge>
    );
  if (check.state === 'pending')
    return (
      <Badge tone="wait" label={check.why}>
        Anchoring pending
      </Badge>
    );
  return (
    <Badge tone="bad" label={check.why}>
      Not verified: {check.why}
    </Badge>
  );
}

export function Timeline({
  records,
  checks,
  localName,
}: {
  records: PatientRecords;
  checks: Map<string, RecordCheck> | undefined;
  localName: string;
}) {
  const [kind, setKind] = useState<TimelineKind | 'all'>('all');
  const shown = useMemo(
    () => records.entries.filter((e) => kind === 'all' || e.kind === kind),
    [records.entries, kind],
  );
  const counts = new Map<TimelineKind, number>();
  for (const e of records.entries) counts.set(e.kind, (counts.get(e.kind) ?? 0) + 1);
  const verified = [...(checks?.values() ?? [])].filter((c) => c.state === 'verified').length;
  return (
    <section aria-label="Records">
      <div className="toolbar">
        <label htmlFor="kind-filter">Show</label>
        <select
          id="kind-filter"
          value={kind}
          onChange={(e) => setKind(e.target.value as TimelineKind | 'all')}
        >
          <option value="all">Everything ({records.entries.length})</option>
          {TIMELINE_KINDS.filter((k) => counts.has(k)).map((k) => (
            <option key={k} value={k}>
              {KIND_LABEL[k]} ({counts.get(k)})
            </option>
          ))}
        </select>
        <p className="summary" aria-live="polite" data-testid="verify-summary">
          {checks === undefined
            ? 'Checking every record against the chain…'
            : `${verified} of ${records.entries.length} records verified against the chain in this browser`}
        </p>
      </div>
      {shown.length === 0 && <p className="empty">No records to show.</p>}
      <ol className="timeline">
        {shown.map((entry) => (
          <li key={entry.key} className={`entry kind-${entry.kind.toLowerCase()}`} data-testid="record">
            <div className="entry-head">
              <time dateTime={entry.date}>{formatDate(entry.date)}</time>
              <span className="kind">{entry.kind}</span>
            </div>
            <p className="entry-title">{entry.title}</p>
            {entry.detail && <p className="entry-detail">{entry.detail}</p>}
            <div className="entry-foot">
              <CheckBadge check={checks?.get(entry.version)} />
              <span className="source">{entry.source ? `from ${entry.source}` : `held at ${localName}`}</span>
            </div>
          </li>
        ))}
      </ol>
      {Object.keys(records.others).length > 0 && (
        <p className="hint">
          Also in your record:{' '}
          {Object.entries(records.others)
            .map(([type, n]) => `${n} ${type}`)
            .join(', ')}
          .
        </p>
      )}
    </section>
  );
}
