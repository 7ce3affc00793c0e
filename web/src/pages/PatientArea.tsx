/**
 * The patient's area: first their key (set up with a claim code, restored from the recovery
 * phrase, or unlocked with the passphrase), then records, access and the access report.
 */
import { useEffect, useState } from 'react';
import type { PrivateKeyAccount } from 'viem/accounts';
import type { Me } from '../App.tsx';
import type { PortalConfig } from '../api.ts';
import { fhir, request } from '../api.ts';
import { ErrorMessage, formatDate, Loading, useAsync } from '../components/common.tsx';
import { patientAddress, type Resource } from '../fhir/records.ts';
import { go, useRoute } from '../route.ts';
import { AccessPage } from './patient/AccessPage.tsx';
import { KeyGate } from './patient/KeyGate.tsx';
import { RecordsPage } from './patient/RecordsPage.tsx';
import { ReportPage } from './patient/ReportPage.tsx';

/**
 * Notices the institution sent the patient (break-glass openings): `Communication` resources of
 * category `notification` in their compartment, newest first, refreshed every half minute.
 */
function Notices({ patientId }: { patientId: string }) {
  const notices = useAsync(
    () =>
      fhir<{ entry?: { resource: Resource }[] }>(
        `Communication?patient=${encodeURIComponent(patientId)}&category=notification`,
      ),
    [patientId],
  );
  useEffect(() => {
    const timer = setInterval(notices.reload, 30_000);
    return () => clearInterval(timer);
  }, [notices.reload]);
  const list = (notices.data?.entry ?? [])
    .map((e) => e.resource)
    .sort((a, b) => String(b.sent ?? '').localeCompare(String(a.sent ?? '')));
  if (list.length === 0) return null;
  return (
    <section className="banner-emergency" aria-label="Notices" data-testid="notices">
      {list.map((n) => (
        <p key={n.id} data-testid="notice">
          <strong>{formatDate(n.sent, true)}:</strong> {n.payload?.[0]?.contentString}
        </p>
      ))}
    </section>
  );
}

/** How long the unlocked key stays in memory without the patient using the portal. */
export const IDLE_LOCK_MS = 10 * 60 * 1000;

const TABS = [
  { route: '/records', label: 'My records' },
  { route: '/access', label: 'Who has access' },
  { route: '/report', label: 'Access report' },
  { route: '/acting-for', label: 'I act for' },
] as const;

/**
 * The patients who appointed this user their delegate (guardian, proxy): for each, the consents
 * the user may manage for them, signed with the user's own key.
 */
function ActingFor({ account, config }: { account: PrivateKeyAccount; config: PortalConfig }) {
  const list = useAsync(
    () =>
      request<{ patients: { patientId: string | null; patientAddress: string; until: number }[] }>(
        '/portal/api/acting-for',
      ),
    [],
  );
  const me = useAsync(() => request<{ address: string | null }>('/portal/api/me'), []);
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
    <>
      <nav className="tabs" aria-label="Patient sections">
        {TABS.map((t) => (
          <a key={t.route} href={`#${t.route}`} aria-current={current === t.route ? 'page' : undefined}>
            {t.label}
          </a>
        ))}
      </nav>
      <main className={current === '/report' ? 'page wide' : 'page'} id="main">
        <Notices patientId={patientId} />
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
