/**
 * Every access to the patient's data: who, when, what, why, allowed or denied, break-glass
 * highlighted, each entry verified in this browser against the chain.
 */
import { useState } from 'react';
import { request } from '../../api.ts';
import {
  Badge,
  ErrorMessage,
  formatDate,
  Loading,
  PURPOSE_LABELS,
  shortAddress,
  useAsync,
} from '../../components/common.tsx';
import { type AccessRow, checkedAccessReport } from '../../verify/accessReport.ts';

export function ReportPage({
  patientId,
  username,
  myAddress,
}: {
  patientId: string;
  username: string;
  myAddress: string | undefined;
}) {
  const report = useAsync(() => checkedAccessReport(patientId), [patientId]);
  const directory = useAsync(
    () =>
      request<{ practitioners: { address: string; username: string | null }[] }>('/portal/api/practitioners'),
    [],
  );
  const names = new Map((directory.data?.practitioners ?? []).map((p) => [p.address, p.username]));
  const data = report.data;
  const [showOwn, setShowOwn] = useState(false);
  const isMe = (r: AccessRow) =>
    r.who === username || (myAddress !== undefined && r.whoAddress === myAddress);
  const rows = (data?.rows ?? []).filter((r) => showOwn || !isMe(r));
  return (
    <>
      <h1 tabIndex={-1}>Access report</h1>
      <p className="lead">
        Every time someone asked for your records — allowed or refused — with the proof that the entry is in
        the log anchored on chain. This browser checks each proof itself.
      </p>
      <div className="toolbar">
        <button type="button" className="secondary" onClick={report.reload} disabled={report.loading}>
          {report.loading ? 'Checking…' : 'Check again'}
        </button>
        {data && (
          <p className="summary" aria-live="polite" data-testid="report-summary">
            {data.verified} verified, {data.pending} waiting to be anchored, {data.failed} failed — chain{' '}
            {data.chainId}
          </p>
        )}
      </div>
      <label className="check">
        <input type="checkbox" checked={showOwn} onChange={(e) => setShowOwn(e.target.checked)} /> Show my own
        activity too
      </label>
      {report.error !== undefined && <ErrorMessage error={report.error} onRetry={report.reload} />}
      {!data && !report.error && <Loading>Loading and verifying your access report…</Loading>}
      {data && rows.length === 0 && <p className="empty">Nobody else has accessed your records.</p>}
      {data && rows.length > 0 && (
        <div className="table-wrap">
          <table className="report">
            <caption className="visually-hidden">Accesses to your records, newest first</caption>
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Who</th>
                <th scope="col">What</th>
                <th scope="col">Why</th>
                <th scope="col">Decision</th>
                <th scope="col">Proof</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((row) => (
                <ReportRow
                  key={row.id}
                  row={row}
                  name={
                    isMe(row)
                      ? 'you'
                      : row.whoAddress
                        ? (names.get(row.whoAddress) ?? shortAddress(row.whoAddress))
                        : undefined
                  }
                />
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}

function ReportRow({ row, name }: { row: AccessRow; name: string | null | undefined }) {
  return (
    <tr
      className={row.emergency ? 'emergency' : undefined}
      data-testid="access"
      data-who={row.who}
      data-allowed={String(row.allowed)}
      data-verification={row.verification}
      data-emergency={String(row.emergency)}
    >
      <td data-label="When">{formatDate(row.when, true)}</td>
      <td data-label="Who">{name ?? row.who}</td>
      <td data-label="What" className="what">
        {row.what}
      </td>
      <td data-label="Why">
        {PURPOSE_LABELS[row.purpose] ?? row.purpose}
        {row.emergency && (
          <>
            {' '}
            <Badge tone="alert">Break-glass</Badge>
            {row.breakGlassReason && <span className="reason">“{row.breakGlassReason}”</span>}
          </>
        )}
      </td>
      <td data-label="Decision">
        {row.allowed ? (
          <Badge tone="ok">Allowed</Badge>
        ) : (
          <Badge tone="bad" label={row.outcomeText}>
            Denied
          </Badge>
        )}
      </td>
      <td data-label="Proof">
        {row.verification === 'verified' && <Badge tone="ok">Verified</Badge>}
        {row.verification === 'pending' && <Badge tone="wait">Anchoring pending</Badge>}
        {row.verification === 'failed' && (
          <Badge tone="bad" label={row.problems.join('; ')}>
            Failed: {row.problems[0]}
          </Badge>
        )}
      </td>
    </tr>
  );
}
