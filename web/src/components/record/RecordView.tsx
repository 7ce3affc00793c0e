/**
 * A patient's record for people: the summary first (and, for clinicians, the patient banner),
 * then lab reports with their results, trends as charts, visits as a timeline, and every record
 * searchable; each record opens a detail view with its verification. Every version shown is
 * verified against the chain in this browser, once per tab (src: fhir/loadRecords.ts).
 */
import { lazy, Suspense, useEffect, useMemo, useState } from 'react';
import { summarize } from '../../fhir/clinicalSummary.ts';
import type { PatientRecords } from '../../fhir/loadRecords.ts';
import { trendsOf } from '../../fhir/trends.ts';
import type { RecordCheck } from '../../verify/recordProofCheck.ts';
import { Loading } from '../common.tsx';
import { PatientBanner } from './PatientBanner.tsx';
import { RecordDetail } from './RecordDetail.tsx';
import { RecordList } from './RecordList.tsx';
import { ReportsPanel } from './ReportsPanel.tsx';
import { SummaryPanel } from './SummaryPanel.tsx';
import { VisitsPanel } from './VisitsPanel.tsx';

// uPlot is loaded only when a chart is first shown.
const TrendsPanel = lazy(() => import('./TrendsPanel.tsx').then((m) => ({ default: m.TrendsPanel })));

const SECTIONS = [
  { id: 'summary', label: 'Summary' },
  { id: 'results', label: 'Lab results' },
  { id: 'trends', label: 'Trends' },
  { id: 'visits', label: 'Visits' },
  { id: 'all', label: 'All records' },
] as const;
type Section = (typeof SECTIONS)[number]['id'];

export function RecordView({
  records,
  checks,
  localName,
  banner = false,
}: {
  records: PatientRecords;
  checks: Map<string, RecordCheck> | undefined;
  localName: string;
  /** The patient banner, for clinicians. */
  banner?: boolean;
}) {
  const [section, setSection] = useState<Section>('summary');
  const [open, setOpen] = useState<string>();
  const summary = useMemo(() => summarize(records.records), [records.records]);
  const trends = useMemo(() => trendsOf(records.records), [records.records]);
  const byKey = useMemo(() => new Map(records.records.map((e) => [e.key, e])), [records.records]);
  // A record opened from a list: the heading gets focus (RecordDetail), the page scrolls to it.
  useEffect(() => {
    if (open) window.scrollTo({ top: 0 });
  }, [open]);
  // Only the versions shown now count, never a verdict left from an earlier load.
  const verified = records.records.filter((e) => checks?.get(e.version)?.state === 'verified').length;
  const failed = records.records.filter((e) => checks?.get(e.version)?.state === 'failed').length;
  const entry = open ? byKey.get(open) : undefined;
  return (
    <>
      {banner && <PatientBanner patient={records.patient} allergies={summary.allergies.length} />}
      <p className="summary verify-line" aria-live="polite" data-testid="verify-summary">
        {checks === undefined
          ? `Checking ${records.records.length} records against the chain…`
          : `${verified} of ${records.records.length} records verified against the chain in this browser${failed ? `; ${failed} could not be verified` : ''}`}
      </p>
      {entry ? (
        <RecordDetail
          entry={entry}
          records={byKey}
          report={summary.reports.find((r) => r.entry.key === entry.key)}
          check={checks?.get(entry.version)}
          localName={localName}
          onOpen={setOpen}
          onClose={() => setOpen(undefined)}
        />
      ) : (
        <>
          <fieldset className="segmented">
            <legend className="visually-hidden">Record sections</legend>
            {SECTIONS.map((s) => (
              <button
                key={s.id}
                type="button"
                aria-pressed={section === s.id}
                onClick={() => setSection(s.id)}
              >
                {s.label}
              </button>
            ))}
          </fieldset>
          {section === 'summary' && <SummaryPanel summary={summary} onOpen={setOpen} />}
          {section === 'results' && <ReportsPanel reports={summary.reports} onOpen={setOpen} />}
          {section === 'trends' && (
            <Suspense fallback={<Loading>Loading the charts…</Loading>}>
              <TrendsPanel trends={trends} />
            </Suspense>
          )}
          {section === 'visits' && <VisitsPanel records={records.records} onOpen={setOpen} />}
          {section === 'all' && (
            <RecordList records={records.records} checks={checks} localName={localName} onOpen={setOpen} />
          )}
          {Object.keys(records.others).length > 0 && (
            <p className="hint">
              Also in this record, not shown here:{' '}
              {Object.entries(records.others)
                .map(([type, n]) => `${n} ${type}`)
                .join(', ')}
              .
            </p>
          )}
        </>
      )}
    </>
  );
}
