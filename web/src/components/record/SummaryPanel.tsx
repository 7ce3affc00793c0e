/** The summary first: active problems, medications, allergies, the latest results, recent visits. */
import type { ClinicalSummary } from '../../fhir/clinicalSummary.ts';
import type { RecordEntry } from '../../fhir/records.ts';
import { formatDate } from '../common.tsx';
import { ResultsTable } from './ResultsTable.tsx';

function EntryList({
  entries,
  empty,
  onOpen,
  label,
}: {
  entries: readonly RecordEntry[];
  empty: string;
  onOpen: (key: string) => void;
  label: string;
}) {
  if (entries.length === 0) return <p className="empty">{empty}</p>;
  return (
    <ul className="plain" aria-label={label}>
      {entries.map((e) => (
        <li key={e.key} data-testid="summary-item">
          <button type="button" className="link" onClick={() => onOpen(e.key)}>
            {e.title}
          </button>
          <span className="hint">
            {' '}
            since {formatDate(e.date)}
            {e.detail && ` · ${e.detail}`}
          </span>
        </li>
      ))}
    </ul>
  );
}

export function SummaryPanel({
  summary,
  onOpen,
}: {
  summary: ClinicalSummary;
  onOpen: (key: string) => void;
}) {
  return (
    <div className="grid summary-grid">
      <section className="card" aria-labelledby="problems-h" data-testid="summary-problems">
        <h2 id="problems-h">Active problems ({summary.problems.length})</h2>
        <EntryList
          entries={summary.problems}
          empty="No active problems."
          onOpen={onOpen}
          label="Active problems"
        />
        {summary.findings.length > 0 && (
          <details>
            <summary>Also noted ({summary.findings.length})</summary>
            <EntryList entries={summary.findings} empty="" onOpen={onOpen} label="Also noted" />
          </details>
        )}
      </section>
      <section className="card" aria-labelledby="meds-h" data-testid="summary-medications">
        <h2 id="meds-h">Medications ({summary.medications.length})</h2>
        <EntryList
          entries={summary.medications}
          empty="No current medications."
          onOpen={onOpen}
          label="Medications"
        />
      </section>
      <section className="card" aria-labelledby="allergies-h" data-testid="summary-allergies">
        <h2 id="allergies-h">Allergies ({summary.allergies.length})</h2>
        <EntryList
          entries={summary.allergies}
          empty="No known allergies."
          onOpen={onOpen}
          label="Allergies"
        />
      </section>
      <section className="card wide-card" aria-labelledby="recent-h" data-testid="summary-results">
        <h2 id="recent-h">Latest results</h2>
        {summary.recentResults.length === 0 ? (
          <p className="empty">No results yet.</p>
        ) : (
          <ResultsTable results={summary.recentResults} caption="Latest results" onOpen={onOpen} withDate />
        )}
      </section>
    </div>
  );
}
