/**
 * One record in full: what it is in words, the fields a person needs for its kind, whether this
 * browser verified its version on chain (batch, block), where it came from, and the FHIR JSON.
 */
import { useEffect, useRef } from 'react';
import { type ReportWithResults, resultLine } from '../../fhir/clinicalSummary.ts';
import { codeText, loincOf, moneyText, quantityText, statusText } from '../../fhir/present.ts';
import type { Loose, RecordEntry } from '../../fhir/records.ts';
import type { RecordCheck } from '../../verify/recordProofCheck.ts';
import { formatDate } from '../common.tsx';
import { CheckBadge } from './CheckBadge.tsx';
import { FlagBadge } from './FlagBadge.tsx';
import { ResultsTable } from './ResultsTable.tsx';

function KindFields({ entry, records }: { entry: RecordEntry; records: ReadonlyMap<string, RecordEntry> }) {
  const r = entry.resource;
  switch (r.resourceType) {
    case 'Observation': {
      const line = resultLine(entry);
      return (
        <>
          <dt>Result</dt>
          <dd data-testid="detail-value">{line.value}</dd>
          {line.range && (
            <>
              <dt>Range</dt>
              <dd>
                {line.range.text} ({line.range.source})
              </dd>
            </>
          )}
          {line.flag && (
            <>
              <dt>Flag</dt>
              <dd>
                <FlagBadge flag={line.flag} />
              </dd>
            </>
          )}
          {r.category?.[0] && (
            <>
              <dt>Category</dt>
              <dd>{codeText(r.category[0])}</dd>
            </>
          )}
        </>
      );
    }
    case 'Encounter':
      return (
        <>
          <dt>When</dt>
          <dd>
            {formatDate(r.period?.start, true)}
            {r.period?.end && ` – ${formatDate(r.period.end, true)}`}
          </dd>
          {r.participant?.[0]?.individual?.display && (
            <>
              <dt>Seen by</dt>
              <dd>
                {r.participant
                  .map((p: Loose) => p.individual?.display)
                  .filter(Boolean)
                  .join(', ')}
              </dd>
            </>
          )}
          {r.location?.[0]?.location?.display && (
            <>
              <dt>Where</dt>
              <dd>{r.location[0].location.display}</dd>
            </>
          )}
        </>
      );
    case 'MedicationRequest':
      return (
        <>
          <dt>Dosage</dt>
          <dd>
            {r.dosageInstruction?.[0]?.text ??
              (r.dosageInstruction?.[0]?.timing?.repeat
                ? `${r.dosageInstruction[0].doseAndRate?.[0]?.doseQuantity?.value ?? ''} ${
                    r.dosageInstruction[0].timing.repeat.frequency ?? ''
                  } time(s) per ${r.dosageInstruction[0].timing.repeat.period ?? ''} ${r.dosageInstruction[0].timing.repeat.periodUnit ?? ''}`
                : 'as directed')}
          </dd>
          {r.requester?.display && (
            <>
              <dt>Prescribed by</dt>
              <dd>{r.requester.display}</dd>
            </>
          )}
        </>
      );
    case 'CarePlan':
      return (
        <>
          <dt>Activities</dt>
          <dd>
            <ul className="plain">
              {(r.activity ?? []).map((a: Loose, i: number) => (
                // biome-ignore lint/suspicious/noArrayIndexKey: activities have no id
                <li key={i}>
                  {codeText(a.detail?.code) ?? 'Activity'} ({statusText(a.detail?.status)})
                </li>
              ))}
            </ul>
          </dd>
          {r.addresses?.length > 0 && (
            <>
              <dt>For</dt>
              <dd>
                {r.addresses
                  .map((a: Loose) => records.get(a.reference)?.title ?? a.display ?? a.reference)
                  .join(', ')}
              </dd>
            </>
          )}
        </>
      );
    case 'Goal':
      return (
        <>
          <dt>Status</dt>
          <dd>{statusText(r.lifecycleStatus)}</dd>
          {r.target?.[0] && (
            <>
              <dt>Target</dt>
              <dd>
                {codeText(r.target[0].measure) ?? ''} {quantityText(r.target[0].detailQuantity) ?? ''}
                {r.target[0].dueDate && ` by ${formatDate(r.target[0].dueDate)}`}
              </dd>
            </>
          )}
        </>
      );
    case 'ImagingStudy':
      return (
        <>
          <dt>Series</dt>
          <dd>
            <ul className="plain">
              {(r.series ?? []).map((s: Loose) => (
                <li key={s.uid}>
                  {s.modality?.display ?? s.modality?.code} of the {codeText(s.bodySite) ?? 'body'}:{' '}
                  {s.numberOfInstances ?? s.instance?.length ?? 0} images
                  {s.instance?.[0]?.title ? ` (${s.instance[0].title})` : ''}
                </li>
              ))}
            </ul>
          </dd>
        </>
      );
    case 'Claim':
    case 'ExplanationOfBenefit':
      return (
        <>
          <dt>Items</dt>
          <dd>
            <ul className="plain">
              {(r.item ?? []).map((item: Loose) => (
                <li key={item.sequence}>
                  {codeText(item.productOrService) ?? 'Service'}
                  {moneyText(item.net) ? `: ${moneyText(item.net)}` : ''}
                </li>
              ))}
            </ul>
          </dd>
          {r.insurance?.[0]?.coverage?.display && (
            <>
              <dt>Insurance</dt>
              <dd>{r.insurance[0].coverage.display}</dd>
            </>
          )}
        </>
      );
    default:
      return null;
  }
}

export function RecordDetail({
  entry,
  records,
  report,
  check,
  localName,
  onOpen,
  onClose,
}: {
  entry: RecordEntry;
  records: ReadonlyMap<string, RecordEntry>;
  report: ReportWithResults | undefined;
  check: RecordCheck | undefined;
  localName: string;
  onOpen: (key: string) => void;
  onClose: () => void;
}) {
  const heading = useRef<HTMLHeadingElement>(null);
  // biome-ignore lint/correctness/useExhaustiveDependencies: focus follows the record shown
  useEffect(() => heading.current?.focus(), [entry.key]);
  const visit = entry.encounter ? records.get(entry.encounter) : undefined;
  const partOf = [...records.values()].find(
    (e) => e.kind === 'Report' && e.resource.result?.some((ref: Loose) => ref.reference === entry.key),
  );
  return (
    <article className="card detail" aria-labelledby="detail-h" data-testid="record-detail">
      <button type="button" className="secondary small" onClick={onClose}>
        ← Back
      </button>
      <p className="kind">{entry.kind}</p>
      <h2 id="detail-h" tabIndex={-1} ref={heading}>
        {entry.title}
      </h2>
      <dl>
        <dt>Date</dt>
        <dd>{formatDate(entry.date, true)}</dd>
        {entry.detail && (
          <>
            <dt>Summary</dt>
            <dd>{entry.detail}</dd>
          </>
        )}
        <KindFields entry={entry} records={records} />
        {entry.resource.status && (
          <>
            <dt>Status</dt>
            <dd>{statusText(entry.resource.status)}</dd>
          </>
        )}
        {entry.resource.code?.coding?.[0] && (
          <>
            <dt>Code</dt>
            <dd className="mono">
              {loincOf(entry.resource.code)} (
              {entry.resource.code.coding[0].system?.replace(/^https?:\/\//, '')})
            </dd>
          </>
        )}
        {visit && (
          <>
            <dt>Visit</dt>
            <dd>
              <button type="button" className="link" onClick={() => onOpen(visit.key)}>
                {visit.title}, {formatDate(visit.date)}
              </button>
            </dd>
          </>
        )}
        {partOf && (
          <>
            <dt>Report</dt>
            <dd>
              <button type="button" className="link" onClick={() => onOpen(partOf.key)}>
                {partOf.title}
              </button>
            </dd>
          </>
        )}
        <dt>Verification</dt>
        <dd data-testid="detail-verification">
          <CheckBadge check={check} />
          {check?.state === 'verified' && (
            <span className="hint">
              {' '}
              Version {entry.version.split('/').pop()} is in anchored batch {check.batch}
              {check.block ? ` (block ${check.block})` : ''}; this browser folded its proof up to the root on
              chain.
            </span>
          )}
        </dd>
        <dt>Held</dt>
        <dd>{entry.source ? `sent by ${entry.source}` : `at ${localName}`}</dd>
      </dl>
      {report && report.results.length > 0 && (
        <ResultsTable results={report.results} caption={`Results of ${entry.title}`} onOpen={onOpen} />
      )}
      <details>
        <summary>The FHIR resource</summary>
        <pre className="json">{JSON.stringify(entry.resource, null, 2)}</pre>
      </details>
    </article>
  );
}
