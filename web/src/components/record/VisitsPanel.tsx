/** Visits as a timeline: each encounter with what was recorded during it. */
import { useMemo, useState } from 'react';
import { KIND_LABEL, type RecordEntry, type RecordKind } from '../../fhir/records.ts';
import { formatDate } from '../common.tsx';
import { Pager } from './Pager.tsx';

const PER_PAGE = 10;

export function VisitsPanel({
  records,
  onOpen,
}: {
  records: readonly RecordEntry[];
  onOpen: (key: string) => void;
}) {
  const [page, setPage] = useState(0);
  const { visits, during } = useMemo(() => {
    const during = new Map<string, RecordEntry[]>();
    for (const e of records)
      if (e.encounter && e.kind !== 'Visit') during.set(e.encounter, [...(during.get(e.encounter) ?? []), e]);
    return { visits: records.filter((e) => e.kind === 'Visit'), during };
  }, [records]);
  if (visits.length === 0) return <p className="empty">No visits recorded.</p>;
  return (
    <section aria-label="Visits">
      <ol className="timeline">
        {visits.slice(page * PER_PAGE, (page + 1) * PER_PAGE).map((visit) => {
          const made = during.get(visit.key) ?? [];
          const byKind = new Map<RecordKind, number>();
          for (const e of made) byKind.set(e.kind, (byKind.get(e.kind) ?? 0) + 1);
          const notable = made.filter((e) =>
            ['Condition', 'Medication', 'Procedure', 'Immunization'].includes(e.kind),
          );
          return (
            <li key={visit.key} className="entry kind-visit" data-testid="visit">
              <div className="entry-head">
                <time dateTime={visit.date}>{formatDate(visit.date)}</time>
                <span className="kind">{visit.detail.split(' · ')[0]}</span>
              </div>
              <p className="entry-title">
                <button type="button" className="link" onClick={() => onOpen(visit.key)}>
                  {visit.title}
                </button>
              </p>
              <p className="entry-detail">{visit.detail.split(' · ').slice(1).join(' · ')}</p>
              {notable.length > 0 && (
                <ul className="plain compact">
                  {notable.slice(0, 6).map((e) => (
                    <li key={e.key}>
                      <span className="kind">{e.kind}</span>{' '}
                      <button type="button" className="link" onClick={() => onOpen(e.key)}>
                        {e.title}
                      </button>
                    </li>
                  ))}
                </ul>
              )}
              {made.length > 0 && (
                <p className="hint">
                  Recorded during this visit:{' '}
                  {[...byKind].map(([kind, n]) => `${n} ${KIND_LABEL[kind].toLowerCase()}`).join(', ')}
                </p>
              )}
            </li>
          );
        })}
      </ol>
      <Pager page={page} total={visits.length} onPage={setPage} label="Visit pages" size={PER_PAGE} />
    </section>
  );
}
