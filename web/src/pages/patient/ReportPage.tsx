/**
 * Every access to the patient's data in words, grouped by who, when, what and why ("dr.ada viewed
 * 113 of your records on 4 Dec 2026 for treatment"), consent changes included, filterable and
 * paged; each line's entries verified in this browser against the chain (once: a verdict is kept
 * for the tab's life, and a refresh checks only what is new).
 */
import { useMemo, useState } from 'react';
import type { Practitioners } from '../../../../src/portal/PortalApi.ts';
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
import { Pager } from '../../components/record/Pager.tsx';
import { type AccessRow, checkedAccessReport } from '../../verify/accessReport.ts';
import {
  type AccessCategory,
  type AccessGroup,
  CATEGORY_WORDS,
  groupAccess,
  sentenceOf,
} from '../../verify/accessWords.ts';

const PAGE = 20;

export function ReportPage({
  patientId,
  username,
  myAddress,
  institution,
}: {
  patientId: string;
  username: string;
  myAddress: string | undefined;
  institution: string;
}) {
  const report = useAsync(() => checkedAccessReport(patientId), [patientId]);
  const directory = useAsync(() => request<Practitioners>('/portal/api/practitioners'), []);
  const names = useMemo(
    () => new Map((directory.data?.practitioners ?? []).map((p) => [p.address, p.username])),
    [directory.data],
  );
  const data = report.data;
  const [showOwn, setShowOwn] = useState(false);
  const [whoFilter, setWhoFilter] = useState('');
  const [category, setCategory] = useState<AccessCategory | ''>('');
  const [from, setFrom] = useState('');
  const [to, setTo] = useState('');
  const [page, setPage] = useState(0);
  const groups = useMemo(() => {
    const isMe = (r: AccessRow) =>
      r.who === username ||
      (myAddress !== undefined && r.whoAddress === myAddress) ||
      r.who === `Patient/${patientId}`;
    return groupAccess(data?.rows ?? [], isMe);
  }, [data, username, myAddress, patientId]);
  const name = (who: string) => {
    const address = /^(?:urn:eip155:)?(0x[0-9a-f]{40})$/i.exec(who)?.[1]?.toLowerCase();
    if (address) return names.get(address) ?? (address === myAddress ? 'you' : shortAddress(address));
    return who;
  };
  const visible = groups.filter(
    (g) =>
      (showOwn || !g.own || g.category === 'consent') &&
      (whoFilter === '' || g.who === whoFilter) &&
      (category === '' || g.category === category) &&
      (from === '' || g.day >= from) &&
      (to === '' || g.day <= to),
  );
  const people = [...new Set(groups.filter((g) => !g.own).map((g) => g.who))].sort();
  const categories = [...new Set(groups.map((g) => g.category))];
  const shown = visible.slice(page * PAGE, (page + 1) * PAGE);
  const filter =
    <T,>(set: (v: T) => void) =>
    (v: T) => {
      set(v);
      setPage(0);
    };
  return (
    <>
      <h1 tabIndex={-1}>Access report</h1>
      <p className="lead">
        Every time someone asked for your records — allowed or refused — and every change to who may read
        them, with the proof that each entry is in the log anchored on chain. This browser checks each proof
        itself.
      </p>
      <div className="toolbar">
        <button type="button" className="secondary" onClick={report.reload} disabled={report.loading}>
          {report.loading ? 'Checking…' : 'Check again'}
        </button>
        {data && (
          <p
            className="summary"
            aria-live="polite"
            data-testid="report-summary"
            data-checked-now={data.checkedNow}
          >
            {data.verified} entries verified, {data.pending} waiting to be anchored, {data.failed} failed —
            chain {data.chainId}
            {data.checkedNow < data.rows.length && ` (${data.checkedNow} new checked now)`}
          </p>
        )}
      </div>
      <fieldset className="filters">
        <legend className="visually-hidden">Filter the report</legend>
        <div className="field">
          <label htmlFor="report-who">Who</label>
          <select id="report-who" value={whoFilter} onChange={(e) => filter(setWhoFilter)(e.target.value)}>
            <option value="">Everyone</option>
            {people.map((p) => (
              <option key={p} value={p}>
                {name(p)}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="report-what">What</label>
          <select
            id="report-what"
            value={category}
            onChange={(e) => filter(setCategory)(e.target.value as AccessCategory | '')}
          >
            <option value="">Everything</option>
            {categories.map((c) => (
              <option key={c} value={c}>
                {CATEGORY_WORDS[c]}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="report-from">From</label>
          <input
            id="report-from"
            type="date"
            value={from}
            onChange={(e) => filter(setFrom)(e.target.value)}
          />
        </div>
        <div className="field">
          <label htmlFor="report-to">To</label>
          <input id="report-to" type="date" value={to} onChange={(e) => filter(setTo)(e.target.value)} />
        </div>
        <label className="check">
          <input type="checkbox" checked={showOwn} onChange={(e) => filter(setShowOwn)(e.target.checked)} />{' '}
          Show my own activity too
        </label>
      </fieldset>
      {report.error !== undefined && <ErrorMessage error={report.error} onRetry={report.reload} />}
      {!data && !report.error && <Loading>Loading and verifying your access report…</Loading>}
      {data && visible.length === 0 && (
        <p className="empty">
          {groups.some((g) => !g.own)
            ? 'Nothing matches these filters.'
            : 'Nobody else has accessed your records.'}
        </p>
      )}
      {data && visible.length > 0 && (
        <>
          <p className="hint" data-testid="report-count" data-count={visible.length}>
            {visible.length} line{visible.length === 1 ? '' : 's'}, newest first, from {data.rows.length} log
            entries
          </p>
          <ol className="access-list" aria-label="Accesses to your records, newest first">
            {shown.map((g) => (
              <AccessLine
                key={g.key}
                group={g}
                sentence={sentenceOf(g, name, formatDate(g.first), PURPOSE_LABELS, institution)}
              />
            ))}
          </ol>
          <Pager
            page={page}
            total={visible.length}
            onPage={setPage}
            label="Access report pages"
            size={PAGE}
          />
        </>
      )}
    </>
  );
}

function AccessLine({ group: g, sentence }: { group: AccessGroup; sentence: string }) {
  const failed = g.rows.filter((r) => r.verification === 'failed');
  return (
    <li
      className={g.emergency ? 'access-line emergency' : 'access-line'}
      data-testid="access"
      data-who={g.who}
      data-category={g.category}
      data-allowed={String(g.allowed)}
      data-verification={g.verification}
      data-emergency={String(g.emergency)}
      data-records={g.records}
    >
      <p className="sentence">
        {sentence}
        {g.reason && <span className="reason"> — reason given: “{g.reason}”</span>}
      </p>
      <p className="meta">
        <time dateTime={g.first}>{formatDate(g.first, true)}</time>
        {g.emergency && <Badge tone="alert">Break-glass</Badge>}
        {g.allowed ? (
          <Badge tone="ok">Allowed</Badge>
        ) : (
          <Badge tone="bad" label={g.rows[0]?.outcomeText}>
            Denied
          </Badge>
        )}
        {g.verification === 'verified' && (
          <Badge tone="ok">
            Verified ({g.rows.length} entr{g.rows.length === 1 ? 'y' : 'ies'})
          </Badge>
        )}
        {g.verification === 'pending' && <Badge tone="wait">Anchoring pending</Badge>}
        {g.verification === 'failed' && (
          <Badge tone="bad" label={failed.flatMap((r) => r.problems).join('; ')}>
            Failed: {failed[0]?.problems[0]}
          </Badge>
        )}
      </p>
      {!g.allowed && g.rows[0]?.outcomeText && <p className="why-refused">Why: {g.rows[0].outcomeText}</p>}
      <details>
        <summary>
          The {g.rows.length} log entr{g.rows.length === 1 ? 'y' : 'ies'}
        </summary>
        <ul>
          {g.rows.map((r) => (
            <li key={r.id}>
              {formatDate(r.when, true)}: {r.what} — entry {r.id},{' '}
              {r.verification === 'verified'
                ? 'verified'
                : r.verification === 'pending'
                  ? 'anchoring pending'
                  : `failed (${r.problems.join('; ')})`}
            </li>
          ))}
        </ul>
      </details>
    </li>
  );
}
