/**
 * Every record, searchable by words, filterable by kind and date range, newest first, 25 a page;
 * each opens its detail view and shows whether this browser verified it on chain.
 */
import { useMemo, useState } from 'react';
import { KIND_LABEL, RECORD_KINDS, type RecordEntry, type RecordKind } from '../../fhir/records.ts';
import type { RecordCheck } from '../../verify/recordProofCheck.ts';
import { formatDate } from '../common.tsx';
import { CheckBadge } from './CheckBadge.tsx';
import { PAGE_SIZE, Pager } from './Pager.tsx';

export interface RecordFilter {
  text: string;
  kind: RecordKind | 'all';
  from: string;
  to: string;
}

export const NO_FILTER: RecordFilter = { text: '', kind: 'all', from: '', to: '' };

export function filterRecords(records: readonly RecordEntry[], filter: RecordFilter): RecordEntry[] {
  const words = filter.text.toLowerCase().split(/\s+/).filter(Boolean);
  return records.filter((e) => {
    if (filter.kind !== 'all' && e.kind !== filter.kind) return false;
    const day = e.date?.slice(0, 10) ?? '';
    if (filter.from && (!day || day < filter.from)) return false;
    if (filter.to && (!day || day > filter.to)) return false;
    const haystack = `${e.title} ${e.detail} ${e.kind}`.toLowerCase();
    return words.every((w) => haystack.includes(w));
  });
}

export function RecordList({
  records,
  checks,
  localName,
  onOpen,
}: {
  records: readonly RecordEntry[];
  checks: Map<string, RecordCheck> | undefined;
  localName: string;
  onOpen: (key: string) => void;
}) {
  const [filter, setFilter] = useState<RecordFilter>(NO_FILTER);
  const [page, setPage] = useState(0);
  const shown = useMemo(() => filterRecords(records, filter), [records, filter]);
  const counts = new Map<RecordKind, number>();
  for (const e of records) counts.set(e.kind, (counts.get(e.kind) ?? 0) + 1);
  const update = (change: Partial<RecordFilter>) => {
    setFilter({ ...filter, ...change });
    setPage(0);
  };
  const pageEntries = shown.slice(page * PAGE_SIZE, (page + 1) * PAGE_SIZE);
  return (
    <section aria-label="All records">
      <form className="filters" aria-label="Filter records" onSubmit={(e) => e.preventDefault()}>
        <div className="field">
          <label htmlFor="record-search">Search</label>
          <input
            id="record-search"
            type="search"
            value={filter.text}
            placeholder="e.g. creatinine, flu, emergency"
            onChange={(e) => update({ text: e.target.value })}
          />
        </div>
        <div className="field">
          <label htmlFor="kind-filter">Show</label>
          <select
            id="kind-filter"
            value={filter.kind}
            onChange={(e) => update({ kind: e.target.value as RecordKind | 'all' })}
          >
            <option value="all">Everything ({records.length})</option>
            {RECORD_KINDS.filter((k) => counts.has(k)).map((k) => (
              <option key={k} value={k}>
                {KIND_LABEL[k]} ({counts.get(k)})
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="date-from">From</label>
          <input
            id="date-from"
            type="date"
            value={filter.from}
            onChange={(e) => update({ from: e.target.value })}
          />
        </div>
        <div className="field">
          <label htmlFor="date-to">To</label>
          <input
            id="date-to"
            type="date"
            value={filter.to}
            onChange={(e) => update({ to: e.target.value })}
          />
        </div>
      </form>
      <p className="summary" aria-live="polite" data-testid="record-count" data-count={shown.length}>
        {shown.length === records.length
          ? `${records.length} records`
          : `${shown.length} of ${records.length} records match`}
      </p>
      {shown.length === 0 && (
        <p className="empty">
          No record matches these filters.{' '}
          <button type="button" className="link" onClick={() => update(NO_FILTER)}>
            Clear the filters
          </button>
        </p>
      )}
      <ol className="timeline">
        {pageEntries.map((entry) => (
          <li
            key={entry.key}
            className={`entry kind-${entry.kind.toLowerCase().replace(' ', '-')}`}
            data-testid="record"
          >
            <div className="entry-head">
              <time dateTime={entry.date}>{formatDate(entry.date)}</time>
              <span className="kind">{entry.kind}</span>
            </div>
            <p className="entry-title">
              <button type="button" className="link" onClick={() => onOpen(entry.key)}>
                {entry.title}
              </button>
            </p>
            {entry.detail && <p className="entry-detail">{entry.detail}</p>}
            <div className="entry-foot">
              <CheckBadge check={checks?.get(entry.version)} />
              <span className="source">{entry.source ? `from ${entry.source}` : `held at ${localName}`}</span>
            </div>
          </li>
        ))}
      </ol>
      <Pager page={page} total={shown.length} onPage={setPage} label="Record pages" />
    </section>
  );
}
