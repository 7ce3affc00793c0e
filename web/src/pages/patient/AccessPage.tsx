/**
 * Who may see the patient's records, and changing it: grant (to whom, which kinds of records,
 * for what purpose, until when) and revoke, each signed with the patient's key here. A change
 * shows as pending until the chain has it; the list refreshes by itself meanwhile.
 */
import { useEffect, useState } from 'react';
import type { PrivateKeyAccount } from 'viem/accounts';
import type {
  PortalConfig,
  PractitionerEntry,
  Practitioners,
  RestrictionRequest,
  WhoHasAccess,
} from '../../../../src/portal/PortalApi.ts';
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
import {
  type ConsentRow,
  grantAccess,
  listConsents,
  revokeAccess,
  setDelegate,
} from '../../fhir/consents.ts';

const RECORD_TYPES = [
  ['Encounter', 'Visits'],
  ['Condition', 'Conditions'],
  ['MedicationRequest', 'Medications'],
  ['AllergyIntolerance', 'Allergies'],
  ['Observation', 'Observations and results'],
  ['Immunization', 'Immunizations'],
  ['Procedure', 'Procedures'],
  ['DiagnosticReport', 'Reports'],
] as const;

const TYPE_WORDS: Readonly<Record<string, string>> = {
  ...Object.fromEntries(RECORD_TYPES),
  Patient: 'your details (name, birth date)',
  CarePlan: 'Care plans',
  Goal: 'Goals',
  ImagingStudy: 'Imaging',
  Claim: 'Claims',
  ExplanationOfBenefit: 'Insurance statements',
  Provenance: 'Where records came from',
  Communication: 'Messages and notices',
};

/** "Visits, Allergies and your details (name, birth date)": record kinds as the form names them. */
export function kindsInWords(types: readonly string[]): string {
  const words = types.map((t) => TYPE_WORDS[t] ?? t.replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase());
  const sorted = [
    ...words.filter((w) => !w.startsWith('your')),
    ...words.filter((w) => w.startsWith('your')),
  ];
  return sorted.length <= 1 ? (sorted[0] ?? '') : `${sorted.slice(0, -1).join(', ')} and ${sorted.at(-1)}`;
}

const GRANT_PURPOSES = ['TREAT', 'CAREMGT', 'HRESCH', 'PUBHLTH', 'HPAYMT'] as const;

const BASIS_LABELS: Record<string, string> = {
  emergency: 'Emergency access (break-glass)',
  'treatment-relationship': 'Treatment policy',
  restricted: 'Restricted by you',
  delegate: 'Your delegate',
  registration: 'Registration',
  system: 'Institution systems',
  'audit-review': 'Audit review',
};
/** Open break-glass windows first, then the people who care for you, then the institution's roles. */
const BASIS_ORDER = [
  'emergency',
  'treatment-relationship',
  'restricted',
  'delegate',
  'registration',
  'system',
  'audit-review',
];

/**
 * Appointing a delegate (a guardian or proxy who may sign consents for the patient) by signing the
 * `Delegate` message in this browser; an end date of today or earlier is refused, and "End" signs
 * `until` 0. The appointment shows under "Also reaching your records" once on chain.
 */
function DelegateForm({ account, patientId }: { account: PrivateKeyAccount; patientId: string }) {
  const [delegate, setDelegateAddress] = useState('');
  const [until, setUntil] = useState('');
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState<string>();
  const [error, setError] = useState<unknown>();
  const submit = async (end: boolean) => {
    setError(undefined);
    setDone(undefined);
    if (!/^0x[0-9a-fA-F]{40}$/.test(delegate.trim()))
      return setError(new Error("Enter the delegate's chain address (0x followed by 40 hex digits)."));
    const seconds = end ? 0 : Math.floor(Date.parse(`${until}T23:59:59Z`) / 1000);
    if (!end && (!Number.isFinite(seconds) || seconds <= Date.now() / 1000))
      return setError(new Error('Choose an end date in the future.'));
    setBusy(true);
    try {
      await setDelegate(account, patientId, delegate.trim(), seconds);
      setDone(
        end
          ? 'The appointment has ended.'
          : 'Your delegate is appointed, signed with your key and recorded on chain.',
      );
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form
      className="card"
      aria-labelledby="delegate-h"
      onSubmit={(e) => {
        e.preventDefault();
        void submit(false);
      }}
    >
      <h2 id="delegate-h">Appoint a delegate</h2>
      <p className="hint">
        A guardian or proxy you appoint may give and revoke access for you, with their own key, until the date
        you choose. They do not see your records.
      </p>
      <label htmlFor="delegate-address">Delegate's chain address</label>
      <input
        id="delegate-address"
        value={delegate}
        onChange={(e) => setDelegateAddress(e.target.value)}
        autoComplete="off"
        spellCheck={false}
      />
      <label htmlFor="delegate-until">Appointed until</label>
      <input id="delegate-until" type="date" value={until} onChange={(e) => setUntil(e.target.value)} />
      {error !== undefined && <ErrorMessage error={error} />}
      {done && (
        <p className="notice" role="status">
          {done}
        </p>
      )}
      <button type="submit" disabled={busy}>
        {busy ? 'Recording on chain…' : 'Sign and appoint'}
      </button>{' '}
      <button type="button" className="danger" disabled={busy} onClick={() => void submit(true)}>
        End this appointment
      </button>
    </form>
  );
}

function OtherAccess({ patientId }: { patientId: string }) {
  const who = useAsync(
    () => request<WhoHasAccess>(`/portal/api/patients/${encodeURIComponent(patientId)}/who-has-access`),
    [patientId],
  );
  const [failure, setFailure] = useState<unknown>();
  const restrict = async (fhirUser: string, on: boolean) => {
    setFailure(undefined);
    try {
      await request(
        on
          ? `/portal/api/patients/${encodeURIComponent(patientId)}/restrictions`
          : `/portal/api/patients/${encodeURIComponent(patientId)}/restrictions/${encodeURIComponent(fhirUser.replace(/^Practitioner\//, ''))}`,
        on
          ? { method: 'POST', body: { practitioner: fhirUser } satisfies RestrictionRequest }
          : { method: 'DELETE' },
      );
      who.reload();
    } catch (error) {
      setFailure(error);
    }
  };
  const entries = (who.data?.entries ?? [])
    .filter((e) => e.basis !== 'grant')
    .sort((a, b) => BASIS_ORDER.indexOf(a.basis) - BASIS_ORDER.indexOf(b.basis));
  return (
    <section aria-labelledby="other-access">
      <h2 id="other-access">Also reaching your records</h2>
      {who.error !== undefined && <ErrorMessage error={who.error} onRetry={who.reload} />}
      {failure !== undefined && <ErrorMessage error={failure} />}
      {!who.data && !who.error && <Loading>Reading every basis of access…</Loading>}
      {who.data && (
        <>
          <p data-testid="treatment-policy">{who.data.policy.words}</p>
          <ul className="cards" aria-label="Other access">
            {entries.map((e) => (
              <li
                key={`${e.basis}:${e.who}:${e.txHash ?? ''}`}
                className={`card basis${e.basis === 'emergency' ? ' banner-emergency' : ''}`}
                data-testid="basis"
                data-basis={e.basis}
              >
                <div className="card-head">
                  <strong>{e.who}</strong>
                  <Badge tone={e.basis === 'emergency' || e.basis === 'restricted' ? 'bad' : 'neutral'}>
                    {BASIS_LABELS[e.basis] ?? e.basis}
                  </Badge>
                </div>
                <p>{e.words}</p>
                {e.fhirUser && e.basis === 'treatment-relationship' && (
                  <button
                    type="button"
                    className="danger"
                    onClick={() => void restrict(e.fhirUser as string, true)}
                  >
                    Restrict {e.who}
                  </button>
                )}
                {e.fhirUser && e.basis === 'restricted' && (
                  <button type="button" onClick={() => void restrict(e.fhirUser as string, false)}>
                    Lift the restriction on {e.who}
                  </button>
                )}
                {(e.since || e.until) && (
                  <dl>
                    {e.since && (
                      <>
                        <dt>Since</dt>
                        <dd>{formatDate(e.since, true)}</dd>
                      </>
                    )}
                    {e.until && (
                      <>
                        <dt>Until</dt>
                        <dd>{formatDate(e.until, true)}</dd>
                      </>
                    )}
                  </dl>
                )}
              </li>
            ))}
          </ul>
        </>
      )}
    </section>
  );
}

export function AccessPage({
  patientId,
  account,
  config,
  onBehalfOf,
}: {
  patientId: string;
  account: PrivateKeyAccount;
  config: PortalConfig;
  /** Set when the signed-in user acts as the patient's delegate: her chain address. */
  onBehalfOf?: `0x${string}`;
}) {
  const consents = useAsync(() => listConsents(patientId), [patientId]);
  const directory = useAsync(() => request<Practitioners>('/portal/api/practitioners'), []);
  const names = new Map(
    (directory.data?.practitioners ?? []).map((p) => [p.address, p.username ?? shortAddress(p.address)]),
  );
  const [message, setMessage] = useState<string>();
  const [failure, setFailure] = useState<unknown>();
  const pending = (consents.data ?? []).some((c) => c.pendingChange !== undefined || c.status === 'proposed');

  useEffect(() => {
    if (!pending) return;
    const timer = setInterval(consents.reload, 1500);
    return () => clearInterval(timer);
  }, [pending, consents.reload]);

  const revoke = async (row: ConsentRow) => {
    setFailure(undefined);
    try {
      await revokeAccess(account, patientId, row, onBehalfOf);
      setMessage(
        `Revocation for ${names.get(row.grantee) ?? row.grantee} signed with your key and sent to the chain.`,
      );
      consents.reload();
    } catch (error) {
      setFailure(error);
    }
  };

  const rows = (consents.data ?? []).filter(
    (c) => c.custodian === undefined || c.custodian === config.custodian,
  );
  return (
    <>
      <h1 tabIndex={-1}>{onBehalfOf ? 'Access you manage as a delegate' : 'Who has access'}</h1>
      <p className="lead">
        Every grant and revocation is signed with your key in this browser and recorded on the consortium's
        chain.
      </p>
      {message && (
        <p className="notice" role="status">
          {message}
        </p>
      )}
      {failure !== undefined && <ErrorMessage error={failure} />}
      {consents.error !== undefined && <ErrorMessage error={consents.error} onRetry={consents.reload} />}
      {!consents.data && !consents.error && <Loading>Reading your consents from the chain…</Loading>}
      {consents.data && rows.length === 0 && <p className="empty">Nobody has been given access yet.</p>}
      {rows.length > 0 && (
        <ul className="cards" aria-label="Access grants">
          {rows.map((row) => (
            <li
              key={row.id}
              className="card consent"
              data-testid="consent"
              data-grantee={names.get(row.grantee) ?? row.grantee}
            >
              <div className="card-head">
                <strong>{names.get(row.grantee) ?? shortAddress(row.grantee)}</strong>
                <ConsentStatus row={row} />
              </div>
              <dl>
                <dt>Records</dt>
                <dd data-testid="grant-kinds">
                  {row.resourceTypes.length === 0 || row.resourceTypes.includes('*')
                    ? 'all your records'
                    : kindsInWords(row.resourceTypes)}
                </dd>
                <dt>Purpose</dt>
                <dd>{row.purposes.map((p) => PURPOSE_LABELS[p] ?? p).join(', ') || '—'}</dd>
                <dt>Until</dt>
                <dd>{row.end ? formatDate(row.end) : '—'}</dd>
              </dl>
              {row.status === 'active' && row.pendingChange === undefined && (
                <button type="button" className="danger" onClick={() => revoke(row)}>
                  Revoke access for {names.get(row.grantee) ?? shortAddress(row.grantee)}
                </button>
              )}
            </li>
          ))}
        </ul>
      )}
      {onBehalfOf === undefined && <OtherAccess patientId={patientId} />}
      {onBehalfOf === undefined && <DelegateForm account={account} patientId={patientId} />}
      <GrantForm
        practitioners={directory.data?.practitioners}
        directoryError={directory.error}
        onGrant={async (choice) => {
          setFailure(undefined);
          await grantAccess(account, patientId, choice, onBehalfOf);
          setMessage(
            `Access for ${names.get(choice.grantee) ?? choice.grantee} signed with your key and sent to the chain.`,
          );
          consents.reload();
        }}
      />
    </>
  );
}

function ConsentStatus({ row }: { row: ConsentRow }) {
  if (row.pendingChange === 'revoke') return <Badge tone="wait">Revocation pending</Badge>;
  if (row.status === 'proposed') return <Badge tone="wait">Pending on chain</Badge>;
  if (row.status === 'active') return <Badge tone="ok">Active</Badge>;
  return (
    <Badge tone="neutral">
      {row.chainState === 'revoked' ? 'Revoked' : row.chainState === 'expired' ? 'Expired' : 'Inactive'}
    </Badge>
  );
}

function GrantForm({
  practitioners,
  directoryError,
  onGrant,
}: {
  practitioners: PractitionerEntry[] | undefined;
  directoryError: unknown;
  onGrant: (choice: {
    grantee: string;
    resourceTypes: string[];
    purposes: string[];
    expiry: number;
  }) => Promise<void>;
}) {
  const inAYear = new Date(Date.now() + 365 * 24 * 3600 * 1000).toISOString().slice(0, 10);
  const [grantee, setGrantee] = useState('');
  const [all, setAll] = useState(true);
  const [types, setTypes] = useState<string[]>([]);
  const [purpose, setPurpose] = useState<string>('TREAT');
  const [until, setUntil] = useState(inAYear);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  return (
    <form
      className="card grant"
      aria-labelledby="grant-title"
      onSubmit={(e) => {
        e.preventDefault();
        setError(undefined);
        const expiry = Math.floor(new Date(`${until}T23:59:59`).getTime() / 1000);
        if (!grantee) return setError(new Error('Choose who gets access.'));
        if (!all && types.length === 0)
          return setError(new Error('Choose at least one kind of record, or all.'));
        if (!(expiry > Date.now() / 1000)) return setError(new Error('The end date must be in the future.'));
        setBusy(true);
        onGrant({ grantee, resourceTypes: all ? [] : ['Patient', ...types], purposes: [purpose], expiry })
          .catch(setError)
          .finally(() => setBusy(false));
      }}
    >
      <h2 id="grant-title">Give access</h2>
      {directoryError !== undefined && <ErrorMessage error={directoryError} />}
      <label htmlFor="grantee">Clinician</label>
      <select id="grantee" value={grantee} onChange={(e) => setGrantee(e.target.value)} required>
        <option value="">Choose a clinician…</option>
        {(practitioners ?? []).map((p) => (
          <option key={p.address} value={p.address}>
            {p.username ?? shortAddress(p.address)}
            {p.memberName ? ` — ${p.memberName}` : ''}
          </option>
        ))}
      </select>
      <fieldset>
        <legend>Which records</legend>
        <label className="check">
          <input type="checkbox" checked={all} onChange={(e) => setAll(e.target.checked)} /> All my records
        </label>
        {!all && (
          <div className="checks">
            <p className="hint">Your name and details are always included, so the clinician can find you.</p>
            {RECORD_TYPES.map(([code, label]) => (
              <label key={code} className="check">
                <input
                  type="checkbox"
                  checked={types.includes(code)}
                  onChange={(e) =>
                    setTypes((t) => (e.target.checked ? [...t, code] : t.filter((x) => x !== code)))
                  }
                />{' '}
                {label}
              </label>
            ))}
          </div>
        )}
      </fieldset>
      <label htmlFor="purpose">Purpose</label>
      <select id="purpose" value={purpose} onChange={(e) => setPurpose(e.target.value)}>
        {GRANT_PURPOSES.map((p) => (
          <option key={p} value={p}>
            {PURPOSE_LABELS[p]}
          </option>
        ))}
      </select>
      <label htmlFor="until">Until (end date)</label>
      <input
        id="until"
        type="date"
        value={until}
        min={new Date().toISOString().slice(0, 10)}
        onChange={(e) => setUntil(e.target.value)}
        required
      />
      {error !== undefined && <ErrorMessage error={error} />}
      <button type="submit" className="primary" disabled={busy}>
        {busy ? 'Signing and sending…' : 'Sign and give access'}
      </button>
    </form>
  );
}
