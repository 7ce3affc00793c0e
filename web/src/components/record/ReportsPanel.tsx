/** Lab and diagnostic reports, newest first, each with its own results read against their ranges. */
import { useState } from 'react';
import type { ReportWithResults } from '../../fhir/clinicalSummary.ts';
import { formatDate } from '../common.tsx';
import { Pager } from './Pager.tsx';
import { ResultsTable } from './ResultsTable.tsx';

const PER_PAGE = 8;

export function ReportsPanel({
  reports,
  onOpen,
}: {
  reports: readonly ReportWithResults[];
  onOpen: (key: string) => void;
}) {
  const [page, setPage] = useState(0);
  if (reports.length === 0) return <p className="empty">No lab or diagnostic reports.</p>;
  return (
    <section aria-label="Reports">
      {reports.slice(page * PER_PAGE, (page + 1) * PER_PAGE).map(({ entry, results }) => {
        const flagged = results.filter(
          (r) => r.flag === 'high' || r.flag === 'low' || r.flag === 'abnormal',
        ).length;
        return (
          <article key={entry.key} className="card" data-testid="lab-report">
            <div className="card-head">
              <h2>
                <button type="button" className="link" onClick={() => onOpen(entry.key)}>
                  {entry.title}
                </button>
              </h2>
              <time dateTime={entry.date}>{formatDate(entry.date)}</time>
            </div>
            <p className="hint">
              {results.length === 0
                ? (entry.resource.conclusion ?? 'No results attached to this report.')
                : `${results.length} result${results.length === 1 ? '' : 's'}${flagged ? `, ${flagged} outside the range` : ', all in range'}`}
            </p>
            {results.length > 0 && (
              <ResultsTable results={results} caption={`Results of ${entry.title}`} onOpen={onOpen} />
            )}
          </article>
        );
      })}
      <Pager page={page} total={reports.length} onPage={setPage} label="Report pages" size={PER_PAGE} />
    </section>
  );
}
