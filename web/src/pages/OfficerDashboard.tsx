/**
 * The privacy officer's dashboard: chain status (block height, members, pending chain writes and
 * anchors), the latest verify result with a button to run it, break-glass openings to review,
 * and integrity alerts raised when a stored record failed its check.
 */
import { useState } from 'react';
import type {
  BreakGlassReviewRequest,
  LatestVerify,
  Me,
  OfficerOverview,
  ReviewOutcome,
} from '../../../src/portal/PortalApi.ts';
import { request } from '../api.ts';
import { Badge, ErrorMessage, formatDate, Loading, shortAddress, useAsync } from '../components/common.tsx';

export function OfficerDashboard({ me }: { me: Me }) {
  const overview = useAsync(() => request<OfficerOverview>('/portal/api/officer/overview'), [me.username]);
  const [running, setRunning] = useState(false);
  const [verifyError, setVerifyError] = useState<unknown>();
  const o = overview.data;
  return (
    <main className="page wide" id="main">
      <h1 tabIndex={-1}>Privacy and integrity</h1>
      <div className="toolbar">
        <button type="button" className="secondary" onClick={overview.reload} disabled={overview.loading}>
          {overview.loading ? 'Refreshing…' : 'Refresh'}
        </button>
      </div>
      {overview.error !== undefined && <ErrorMessage error={overview.error} onRetry={overview.reload} />}
      {!o && !overview.error && <Loading>Reading the chain and the node…</Loading>}
      {o && (
        <div className="grid">
          <section className="card" aria-labelledby="chain-title">
            <h2 id="chain-title">Chain</h2>
            <dl className="stats">
              <dt>Block height</dt>
              <dd data-testid="block-height">{o.chain.head}</dd>
              <dt>Indexed to</dt>
              <dd>{o.chain.indexedBlock}</dd>
              <dt>Chain id</dt>
              <dd>{o.chain.chainId}</dd>
              <dt>Pending chain writes</dt>
              <dd>
                {o.outbox.pending + o.outbox.signed}
                {o.outbox.failed > 0 && <Badge tone="bad">{o.outbox.failed} failed</Badge>}
              </dd>
              <dt>Pending anchors</dt>
              <dd>
                {o.pendingAnchors.records} record batches, {o.pendingAnchors.audit} audit batches
              </dd>
            </dl>
            <h3>Members ({o.chain.members.length})</h3>
            <ul className="plain">
              {o.chain.members.map((m) => (
                <li key={m.address}>
                  {m.active ? <Badge tone="ok">active</Badge> : <Badge tone="neutral">removed</Badge>}{' '}
                  {m.name} <span className="mono">{shortAddress(m.address)}</span>
                  {m.address === o.chain.node && ' (this node)'}
                </li>
              ))}
            </ul>
          </section>
          <section className="card" aria-labelledby="verify-title">
            <h2 id="verify-title">Verify</h2>
            {o.latestVerify ? (
              <div data-testid="latest-verify">
                <p>
                  {o.latestVerify.report.ok ? (
                    <Badge tone="ok">All holds</Badge>
                  ) : (
                    <Badge tone="bad">Findings</Badge>
                  )}{' '}
                  {formatDate(o.latestVerify.at, true)} by {o.latestVerify.by},{' '}
                  {Math.round(o.latestVerify.report.durationMs)} ms
                </p>
                <p>
                  Records: {o.latestVerify.report.counts.records.rows} versions (
                  {o.latestVerify.report.counts.records.anchored} anchored,{' '}
                  {o.latestVerify.report.counts.records.pending} pending). Audit:{' '}
                  {o.latestVerify.report.counts.audit.rows} events (
                  {o.latestVerify.report.counts.audit.anchored} anchored,{' '}
                  {o.latestVerify.report.counts.audit.pending} pending).
                </p>
                {o.latestVerify.report.findings.length > 0 && (
                  <ul className="plain findings">
                    {o.latestVerify.report.findings.slice(0, 20).map((f, i) => (
                      // biome-ignore lint/suspicious/noArrayIndexKey: findings have no identity
                      <li key={i}>
                        <strong>{f.check}</strong> {f.row} — {f.detail}
                      </li>
                    ))}
                  </ul>
                )}
              </div>
            ) : (
              <p>Not run from the portal yet.</p>
            )}
            {verifyError !== undefined && <ErrorMessage error={verifyError} />}
            <button
              type="button"
              className="primary"
              disabled={running}
              onClick={() => {
                setRunning(true);
                setVerifyError(undefined);
                request<LatestVerify>('/portal/api/officer/verify', { method: 'POST', body: {} })
                  .then(overview.reload, setVerifyError)
                  .finally(() => setRunning(false));
              }}
            >
              {running ? 'Verifying every record and audit event…' : 'Run verify now'}
            </button>
          </section>
          <section className="card" aria-labelledby="bg-title">
            <h2 id="bg-title">Break-glass to review ({o.breakGlass.filter((b) => !b.review).length})</h2>
            {o.breakGlass.length === 0 ? (
              <p>No emergency access in the last 30 days.</p>
            ) : (
              <ul className="plain">
                {o.breakGlass.map((b) => (
                  <li key={`${b.txHash}`} className="emergency-item card" data-testid="break-glass-opening">
                    <p className="opening-who">
                      {b.open ? <Badge tone="alert">open</Badge> : <Badge tone="neutral">closed</Badge>}{' '}
                      <strong data-testid="opening-practitioner">{b.practitionerName}</strong> (
                      {b.institution}) opened emergency access to the records of{' '}
                      <strong data-testid="opening-patient">
                        {b.patientName ?? `the patient at ${shortAddress(b.patient)}`}
                      </strong>
                      {b.patientId && <span className="mono"> (Patient/{b.patientId})</span>}
                    </p>
                    <dl className="opening-facts">
                      <dt>Reason given</dt>
                      <dd data-testid="opening-reason">
                        {b.reason ? `“${b.reason}”` : 'not found in the audit log'}
                      </dd>
                      <dt>Opened</dt>
                      <dd data-testid="opening-opened">
                        {b.openedAt ? formatDate(b.openedAt, true) : 'unknown'} (block {b.block})
                      </dd>
                      <dt>{b.open ? 'Time left' : 'Closed'}</dt>
                      <dd data-testid="opening-time-left">
                        {b.open
                          ? `${timeLeft(b.expiresAt)}, until ${formatDate(b.expiresAt, true)}`
                          : formatDate(b.expiresAt, true)}
                      </dd>
                    </dl>
                    {b.review ? (
                      <div data-testid="break-glass-review">
                        <p>
                          <Badge tone={b.review.outcome === 'justified' ? 'ok' : 'bad'}>
                            reviewed: {b.review.outcome === 'justified' ? 'justified' : 'not justified'}
                          </Badge>{' '}
                          {b.review.reviewer ? `by ${b.review.reviewer}, ` : ''}
                          {formatDate(b.review.reviewedAt, true)}
                        </p>
                        {b.review.note && <p data-testid="review-note">Note: “{b.review.note}”</p>}
                      </div>
                    ) : (
                      <ReviewForm txHash={b.txHash} onReviewed={overview.reload} />
                    )}
                  </li>
                ))}
              </ul>
            )}
            <p className="hint">
              The reason and the note are read back from the patient's audit log (encrypted, anchored on
              chain), never kept in the clear. A review is an audit event too: who reviewed, the outcome and
              the note.
            </p>
          </section>
          <section className="card" aria-labelledby="alerts-title">
            <h2 id="alerts-title">Integrity alerts ({o.integrityAlerts.length})</h2>
            {o.integrityAlerts.length === 0 ? (
              <p>
                <Badge tone="ok">None</Badge> No stored record has failed its check on read.
              </p>
            ) : (
              <ul className="plain">
                {o.integrityAlerts.map((a) => (
                  <li key={a.id}>
                    <Badge tone="bad">{a.code}</Badge> {a.resource ?? a.subject}: {a.detail} (
                    {formatDate(a.at, true)})
                  </li>
                ))}
              </ul>
            )}
          </section>
        </div>
      )}
    </main>
  );
}

/** "12 minutes left", "1 h 5 min left". */
function timeLeft(until: string): string {
  const minutes = Math.max(0, Math.round((Date.parse(until) - Date.now()) / 60_000));
  return minutes >= 60 ? `${Math.floor(minutes / 60)} h ${minutes % 60} min left` : `${minutes} minutes left`;
}

/** Justified or not, with an optional note: one review per opening, recorded as an audit event. */
function ReviewForm({ txHash, onReviewed }: { txHash: string; onReviewed: () => void }) {
  const [note, setNote] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const id = `review-note-${txHash.slice(2, 10)}`;
  const submit = async (outcome: ReviewOutcome) => {
    setBusy(true);
    setError(undefined);
    try {
      await request(`/portal/api/officer/break-glass/${txHash}/review`, {
        method: 'POST',
        body: { outcome, ...(note.trim() ? { note: note.trim() } : {}) } satisfies BreakGlassReviewRequest,
      });
      onReviewed();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="review-form">
      <label htmlFor={id}>Review note (optional)</label>
      <input id={id} value={note} maxLength={2000} onChange={(e) => setNote(e.target.value)} />
      <div className="toolbar">
        <button type="button" className="primary" disabled={busy} onClick={() => submit('justified')}>
          Justified
        </button>
        <button type="button" className="secondary" disabled={busy} onClick={() => submit('not-justified')}>
          Not justified
        </button>
      </div>
      {error !== undefined && <ErrorMessage error={error} />}
    </div>
  );
}
