/**
 * The patient's area: first their key (set up with a claim code, restored from the recovery
 * phrase, or unlocked with the passphrase), then records, access and the access report.
 */
import { useEffect, useRef, useState } from 'react';
import type { PrivateKeyAccount } from 'viem/accounts';
import type {
  ActingFor as ActingForAnswer,
  Me,
  PortalConfig,
  Practitioners,
} from '../../../src/portal/PortalApi.ts';
import { fhir, request } from '../api.ts';
import { Badge, ErrorMessage, formatDate, Loading, useAsync } from '../components/common.tsx';
import { patientAddress, type Resource } from '../fhir/records.ts';
import { go, useRoute } from '../route.ts';
import { type AccessRow, checkedAccessReport } from '../verify/accessReport.ts';
import { groupAccess } from '../verify/accessWords.ts';
import { AccessPage } from './patient/AccessPage.tsx';
import { KeyGate } from './patient/KeyGate.tsx';
import { RecordsPage } from './patient/RecordsPage.tsx';
import { ReportPage } from './patient/ReportPage.tsx';

interface Notice {
  id: string;
  sent: string;
  kind: 'break-glass' | 'new-organization';
  text: string;
}

/**
 * The patient's notices, newest first: what the institution sent them (`Communication`s of
 * category `notification` in their compartment: a break-glass opening) and, from the access
 * report verified in this browser, the first read of their records by each organization. Read
 * again on every screen change and every half minute; "new" until the notices screen is seen.
 */
function useNotices(
  patientId: string,
  route: string,
  institution: string,
  username: string,
  myAddress: string | undefined,
) {
  const directory = useAsync(() => request<Practitioners>('/portal/api/practitioners'), []);
  const notices = useAsync(async (): Promise<Notice[]> => {
    const [communications, report] = await Promise.all([
      fhir<{ entry?: { resource: Resource }[] }>(
        `Communication?patient=${encodeURIComponent(patientId)}&category=notification`,
      ),
      checkedAccessReport(patientId).catch(() => undefined),
    ]);
    const list: Notice[] = (communications.entry ?? []).map(({ resource: n }) => ({
      id: `Communication/${n.id}`,
      sent: String(n.sent ?? ''),
      kind: 'break-glass',
      text: String(n.payload?.[0]?.contentString ?? ''),
    }));
    const organizations = new Map(
      (directory.data?.practitioners ?? []).map((p) => [p.address, p.memberName ?? institution]),
    );
    const first = new Map<string, { when: string; who: string }>();
    const own = (r: AccessRow) =>
      r.who === username || r.who === `Patient/${patientId}` || (!!myAddress && r.whoAddress === myAddress);
    for (const g of [...groupAccess(report?.rows ?? [], own)].reverse()) {
      // Only what the chain bears out (or will, once anchored): a failed entry is no notice.
      if (g.own || g.verification === 'failed' || (g.category !== 'viewed' && g.category !== 'emergency'))
        continue;
      const address = g.rows[0]?.whoAddress;
      const organization = (address && organizations.get(address)) || institution;
      if (!first.has(organization)) first.set(organization, { when: g.first, who: g.who });
    }
    for (const [organization, f] of first)
      list.push({
        id: `first-read/${organization}`,
        sent: f.when,
        kind: 'new-organization',
        text: `${organization} read your records for the first time (${f.who}, on ${formatDate(f.when, true)}). The access report has every read, each verified.`,
      });
    return list.sort((a, b) => b.sent.localeCompare(a.sent));
  }, [patientId, route, directory.data, username, myAddress]);
  useEffect(() => {
    const timer = setInterval(notices.reload, 30_000);
    return () => clearInterval(timer);
  }, [notices.reload]);
  return notices.data ?? [];
}

const seenKey = (patientId: string) => `medledger.notices-seen.${patientId}`;

function NoticeBanner({ notices, seen }: { notices: Notice[]; seen: string }) {
  const unseen = notices.filter((n) => n.kind === 'break-glass' && n.sent > seen);
  if (unseen.length === 0) return null;
  return (
    <section className="banner-emergency" aria-label="New notices" data-testid="notices">
      {unseen.map((n) => (
        <p key={n.id} data-testid="notice">
          <strong>{formatDate(n.sent, true)}:</strong> {n.text}
        </p>
      ))}
    </section>
  );
}

function NoticesPage({ notices, seen }: { notices: Notice[]; seen: string }) {
  return (
    <>
      <h1 tabIndex={-1}>Notices</h1>
      <p className="lead">
        Emergency access to your records, and the first time an organization reads them. Each is also in your
        access report, with its proof.
      </p>
      {notices.length === 0 ? (
        <p className="empty">No notices.</p>
      ) : (
        <ul className="cards" aria-label="Notices, newest first">
          {notices.map((n) => (
            <li
              key={n.id}
              className={n.kind === 'break-glass' ? 'card notice-item emergency' : 'card notice-item'}
              data-testid="notice-item"
              data-kind={n.kind}
            >
              <p>
                {n.sent > seen && <Badge tone="alert">New</Badge>} <strong>{formatDate(n.sent, true)}</strong>
              </p>
              <p>{n.text}</p>
            </li>
          ))}
        </ul>
      )}
    </>
  );
}

/** How long the unlocked key stays in memory without the patient using the portal. */
export const IDLE_LOCK_MS = 10 * 60 * 1000;

const TABS = [
  { route: '/records', label: 'My records' },
  { route: '/access', label: 'Who has access' },
  { route: '/report', label: 'Access report' },
  { route: '/acting-for', label: 'I act for' },
  { route: '/notices', label: 'Notices' },
] as const;

/**
 * The patients who appointed this user their delegate (guardian, proxy): for each, the consents
 * the user may manage for them, signed with the user's own key.
 */
function ActingFor({ account, config }: { account: PrivateKeyAccount; config: PortalConfig }) {
  const list = useAsync(() => request<ActingForAnswer>('/portal/api/acting-for'), []);
  const me = useAsync(() => request<Me>('/portal/api/me'), []);
  const [chosen, setChosen] = useState<{ patientId: string; patientAddress: `0x${string}` }>();
  if (chosen)
    return (
      <AccessPage
        patientId={chosen.patientId}
        account={account}
        config={config}
        onBehalfOf={chosen.patientAddress}
      />
    );
  return (
    <>
      <h1 tabIndex={-1}>I act for</h1>
      <p className="lead">
        Patients who appointed you their delegate. You manage their consents, not their records.
      </p>
      {me.data?.address && (
        <p>
          Your chain address, for a patient who wants to appoint you:{' '}
          <code data-testid="my-address">{me.data.address}</code>
        </p>
      )}
      {list.error !== undefined && <ErrorMessage error={list.error} onRetry={list.reload} />}
      {!list.data && !list.error && <Loading>Reading your appointments from the chain…</Loading>}
      {list.data && list.data.patients.length === 0 && <p className="empty">Nobody has appointed you.</p>}
      <ul className="cards" aria-label="Patients I act for">
        {(list.data?.patients ?? [])
          .filter((p) => p.patientId !== null)
          .map((p) => (
            <li key={p.patientAddress} className="card" data-testid="acting-for">
              <strong>Patient/{p.patientId}</strong> ({p.patientAddress}) until{' '}
              {formatDate(new Date(p.until * 1000).toISOString())}{' '}
              <button
                type="button"
                onClick={() =>
                  setChosen({
                    patientId: p.patientId as string,
                    patientAddress: p.patientAddress as `0x${string}`,
                  })
                }
              >
                Manage access for Patient/{p.patientId}
              </button>
            </li>
          ))}
      </ul>
    </>
  );
}

export function PatientArea({ me, config }: { me: Me; config: PortalConfig }) {
  const route = useRoute();
  const [account, setAccount] = useState<PrivateKeyAccount>();
  const patientId = me.patient;
  const patient = useAsync(
    () =>
      patientId
        ? fhir<Resource>(`Patient/${encodeURIComponent(patientId)}`)
        : Promise.reject(
            new Error('Your account is not linked to a patient record; ask the records office.'),
          ),
    [patientId, account?.address],
  );
  // The unlocked key lives in this tab's memory only while it is used: after IDLE_LOCK_MS without
  // a key press, click or touch it is dropped, and the passphrase unlocks it again.
  useEffect(() => {
    if (!account) return;
    let timer = setTimeout(() => setAccount(undefined), IDLE_LOCK_MS);
    const active = () => {
      clearTimeout(timer);
      timer = setTimeout(() => setAccount(undefined), IDLE_LOCK_MS);
    };
    const events = ['pointerdown', 'keydown', 'touchstart'] as const;
    for (const e of events) window.addEventListener(e, active, { passive: true });
    return () => {
      clearTimeout(timer);
      for (const e of events) window.removeEventListener(e, active);
    };
  }, [account]);

  if (patient.error)
    return (
      <main className="page" id="main">
        <ErrorMessage error={patient.error} onRetry={patient.reload} />
      </main>
    );
  if (!patient.data || !patientId)
    return (
      <main className="page" id="main">
        <Loading>Loading your record…</Loading>
      </main>
    );
  const address = patientAddress(patient.data);

  if (!account)
    return (
      <main className="page" id="main">
        <KeyGate
          me={me}
          patientId={patientId}
          patientAddress={address}
          onUnlocked={(a) => {
            setAccount(a);
            if (!route.startsWith('/') || route === '/') go('/records');
          }}
        />
      </main>
    );

  const current = TABS.find((t) => route.startsWith(t.route))?.route ?? '/records';
  return (
    <PatientScreens
      patientId={patientId}
      current={current}
      route={route}
      config={config}
      me={me}
      account={account}
      address={address}
    />
  );
}

function PatientScreens({
  patientId,
  current,
  route,
  config,
  me,
  account,
  address,
}: {
  patientId: string;
  current: string;
  route: string;
  config: PortalConfig;
  me: Me;
  account: PrivateKeyAccount;
  address: string | undefined;
}) {
  const notices = useNotices(patientId, route, config.institution, me.username, address);
  const [seen, setSeen] = useState(() => localStorage.getItem(seenKey(patientId)) ?? '');
  const unseen = notices.filter((n) => n.sent > seen).length;
  // Seeing the notices screen marks what it showed seen, on leaving it (so "New" stays while it is read).
  const newest = useRef('');
  if (current === '/notices' && notices[0] && notices[0].sent > newest.current)
    newest.current = notices[0].sent;
  useEffect(() => {
    if (current !== '/notices') return;
    return () => {
      if (!newest.current) return;
      localStorage.setItem(seenKey(patientId), newest.current);
      setSeen(newest.current);
    };
  }, [current, patientId]);
  return (
    <>
      <nav className="tabs" aria-label="Patient sections">
        {TABS.map((t) => (
          <a key={t.route} href={`#${t.route}`} aria-current={current === t.route ? 'page' : undefined}>
            {t.label}
            {t.route === '/notices' && unseen > 0 && (
              <span className="count-badge" data-testid="notice-badge">
                {unseen}
                <span className="visually-hidden"> new</span>
              </span>
            )}
          </a>
        ))}
      </nav>
      <main className={current === '/report' ? 'page wide' : 'page'} id="main">
        {current !== '/notices' && <NoticeBanner notices={notices} seen={seen} />}
        {current === '/notices' && <NoticesPage notices={notices} seen={seen} />}
        {current === '/records' && <RecordsPage patientId={patientId} />}
        {current === '/access' && <AccessPage patientId={patientId} account={account} config={config} />}
        {current === '/acting-for' && <ActingFor account={account} config={config} />}
        {current === '/report' && (
          <ReportPage
            patientId={patientId}
            username={me.username}
            myAddress={address}
            institution={config.institution}
          />
        )}
      </main>
    </>
  );
}
