/** Results in a table: name, value with its unit, the range it is read against, and its flag. */
import type { ResultLine } from '../../fhir/clinicalSummary.ts';
import { formatDate } from '../common.tsx';
import { FlagBadge } from './FlagBadge.tsx';

export function ResultsTable({
  results,
  caption,
  onOpen,
  withDate = false,
}: {
  results: readonly ResultLine[];
  caption: string;
  onOpen: (key: string) => void;
  withDate?: boolean;
}) {
  return (
    // A scrollable region must be reachable by keyboard (WCAG 2.1.1); a group, not a landmark (a
    // page holds several tables of one name, such as two reports of the same panel).
    // biome-ignore lint/a11y/noNoninteractiveTabindex: see above
    // biome-ignore lint/a11y/useSemanticElements: a fieldset is for form controls
    <div className="table-wrap" role="group" tabIndex={0} aria-label={caption}>
      <table className="report results">
        <caption className="visually-hidden">{caption}</caption>
        <thead>
          <tr>
            <th scope="col">Test</th>
            <th scope="col">Result</th>
            <th scope="col">Range</th>
            <th scope="col">Flag</th>
            {withDate && <th scope="col">Date</th>}
          </tr>
        </thead>
        <tbody>
          {results.map((r) => (
            <tr key={r.entry.key} data-testid="result" data-flag={r.flag ?? ''}>
              <td data-label="Test">
                <button type="button" className="link" onClick={() => onOpen(r.entry.key)}>
                  {r.name}
                </button>
              </td>
              <td data-label="Result" className="value">
                {r.value}
              </td>
              <td data-label="Range">
                {r.range ? (
                  <>
                    {r.range.text}
                    {r.range.source === 'typical adult range' && (
                      <span className="hint"> (typical adult)</span>
                    )}
                  </>
                ) : (
                  '—'
                )}
              </td>
              <td data-label="Flag">
                <FlagBadge flag={r.flag} />
              </td>
              {withDate && (
                <td data-label="Date">
                  <time dateTime={r.entry.date}>{formatDate(r.entry.date)}</time>
                </td>
              )}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
