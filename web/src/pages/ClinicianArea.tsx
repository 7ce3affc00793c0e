/**
 * The clinician's area: the patients who gave them access (or whose break-glass window is open),
 * a patient's records with where each came from, and the break-glass flow.
 */
import { useEffect, useRef, useState } from 'react';
import {
  decodePurposes,
  type Me,
  type MyPatients as MyPatientsAnswer,
} from '../../../src/portal/PortalApi.ts';
import { ApiError, fhir, portalConfig, request } from '../api.ts';
import {
  Badge,
  ErrorMessage,
  formatDate,
  Loading,
  PURPOSE_LABELS,
  shortAddress,
  useAsync,
} from '../components/common.tsx';
import { RecordView } from '../components/record/RecordView.tsx';
import { checkRecords, loadPatientRecords } from '../fhir/loadRecords.ts';
import { patientName, type Resource } from '../fhir/records.ts';
import { go, useRoute } from '../route.ts';
import { BreakGlassForm, emergencyHeaders, emergencyOf } from './clinician/BreakGlass.tsx';

export function ClinicianArea({ me }: { me: Me }) {
  const route = useRoute();
  const match = /^\/patients\/([^/]+)/.exec(route);
  return (
    <>
      <nav className="tabs" aria-label="Clinician sections">
        <a href="#/patients" aria-current={!match && !route.startsWith('/break-glass') ? 'page' : undefined}>
          My patients
        </a>
        <a href="#/break-glass" aria-current={route.startsWith('/break-glass') ? 'page' : undefined}>
          Emergency access
        </a>
      </nav>
      <main className="page" id="main">
        {match ? (
          <PatientRecords patientId={decodeURIComponent(match[1]!)} />
        ) : route.startsWith('/break-glass') ? (
          <BreakGlassForm me={me} />
        ) : (
          <MyPatients me={me} />
        )}
      </main>
    </>
  );
}

/** One access of the clinician's, with the patient's local id. */
type PatientAccess = MyPatientsAnswer['accesses'][number];

interface Listed {
  access: PatientAccess;
  patient: Resource | undefined;
  error?: string;
}

function MyPatients({ me }: { me: Me }) {
  const list = useAsync(async () => {
    const { accesses } = await request<MyPatientsAnswer>('/portal/api/my-patients');
    return Promise.all(
      accesses.map(async (access): Promise<Listed> => {
        const headers = access.kind === 'break-glass' ? emergencyHeaders(access.patientAddress) : {};
        if (access.patientId === null)
          return { access, patient: undefined, error: 'This patient is not in this node’s records.' };
        try {
          const patient = await fhir<Resource>(`Patient/${encodeURIComponent(access.patientId)}`, {
            headers,
          });
          return { access, patient };
        } catch (error) {
          return { access, patient: undefined, error: (error as Error).message };
        }
      }),
    );
  }, [me.username]);
  const [filter, setFilter] = useState('');
  // One card per patient, whatever the number of bases (a consent and an open break-glass window).
  const byPatient = new Map<string, Listed & { bases: PatientAccess[] }>();
  for (const l of list.data ?? []) {
    const seen = byPatient.get(l.access.patientAddress);
    if (seen) {
      seen.bases.push(l.access);
      if (!seen.patient && l.patient) Object.assign(seen, { patient: l.patient, error: l.error });
    } else byPatient.set(l.access.patientAddress, { ...l, bases: [l.access] });
  }
  const shown = [...byPatient.values()].filter(
    (l) => !filter || patientName(l.patient).toLowerCase().includes(filter.toLowerCase()),
  );
  return (
    <>
      <h1 tabIndex={-1}>My patients</h1>
      <p className="lead">
        Patients who have given you access on chain, and those whose records you opened in an emergency.
      </p>
      {!me.address && (
        <ErrorMessage error="Your account has no chain address, so no patient can give you access. Ask the administrator." />
      )}
      <div className="toolbar">
        <label htmlFor="patient-filter">Find a patient</label>
        <input
          id="patient-filter"
          type="search"
          value={filter}
          onChange={(e) => setFilter(e.target.value)}
          placeholder="Name"
        />
        <button type="button" className="secondary" onClick={list.reload}>
          Refresh
        </button>
      </div>
      {list.error !== undefined && <ErrorMessage error={list.error} onRetry={list.reload} />}
      {!list.data && !list.error && <Loading>Looking up your consents on chain…</Loading>}
      {list.data && list.data.length === 0 && <p className="empty">No patient has given you access.</p>}
      {list.data && list.data.length > 0 && shown.length === 0 && (
        <p className="empty">No patient of yours matches “{filter}”.</p>
      )}
      <ul className="cards" aria-label="Patients">
        {shown.map(({ access, patient, error, bases }) => (
          <li key={access.patientAddress} className="card" data-testid="my-patient">
            <div className="card-head">
              <strong>{patient ? patientName(patient) : shortAddress(access.patientAddress)}</strong>
              {bases.some((b) => b.kind === 'break-glass') && <Badge tone="alert">Break-glass</Badge>}
              {bases.some((b) => b.kind === 'consent') && <Badge tone="ok">Consent</Badge>}
            </div>
            {bases.map((b) => (
              <p key={b.kind}>
                {b.kind === 'consent'
                  ? `For ${decodePurposes(b.purposes ?? 0)
                      .map((p) => PURPOSE_LABELS[p] ?? p)
                      .join(', ')}, until ${formatDate(new Date(b.expiry * 1000).toISOString())}`
                  : `Emergency access until ${formatDate(new Date(b.expiry * 1000).toISOString(), true)}`}
              </p>
            ))}
            {patient?.birthDate && <p className="hint">Born {formatDate(patient.birthDate)}</p>}
            {error && <ErrorMessage error={error} />}
            {patient?.id && (
              <button
                type="button"
                className="primary"
                onClick={() => go(`/patients/${encodeURIComponent(patient.id!)}`)}
              >
                View records of {patientName(patient)}
              </button>
            )}
          </li>
        ))}
      </ul>
    </>
  );
}

function PatientRecords({ patientId }: { patientId: string }) {
  const [purpose, setPurpose] = useState('TREAT');
  // "Reload" asks the node again (consent may have changed); switching screens uses what this tab has.
  const reloads = useRef(0);
  const records = useAsync(async () => {
    const emergency = emergencyOf(patientId);
    const headers = emergency ? emergencyHeaders(emergency.address) : { 'x-purpose-of-use': purpose };
    const loaded = await loadPatientRecords(patientId, headers, { fresh: reloads.current > 0 });
    return { loaded, headers };
  }, [patientId, purpose]);
  const checks = useAsync(
    () =>
      records.data
        ? checkRecords(patientId, records.data.loaded.records, records.data.headers)
        : new Promise<never>(() => {}),
    [records.data],
  );
  const config = useAsync(() => portalConfig(), []);
  const emergency = emergencyOf(patientId);
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, []);
  const refused =
    records.error instanceof ApiError && (records.error.status === 403 || records.error.status === 404);
  return (
    <>
      <p>
        <a href="#/patients">← My patients</a>
      </p>
      <h1 tabIndex={-1}>
        {records.data ? `Records of ${patientName(records.data.loaded.patient)}` : 'Patient records'}
      </h1>
      {emergency && (
        <p className="banner-emergency" role="status">
          Break-glass access — {Math.max(0, Math.round((emergency.expiresAt - now) / 60000))} minutes left
          (until {formatDate(new Date(emergency.expiresAt).toISOString(), true)}). Reason on record: “
          {emergency.reason}”
        </p>
      )}
      {!emergency && (
        <div className="toolbar">
          <label htmlFor="read-purpose">Purpose of use</label>
          <select id="read-purpose" value={purpose} onChange={(e) => setPurpose(e.target.value)}>
            {['TREAT', 'CAREMGT', 'HRESCH', 'PUBHLTH'].map((p) => (
              <option key={p} value={p}>
                {PURPOSE_LABELS[p]}
              </option>
            ))}
          </select>
          <button
            type="button"
            className="secondary"
            onClick={() => {
              reloads.current++;
              records.reload();
            }}
          >
            Reload
          </button>
        </div>
      )}
      {refused && (
        <div className="error refused" role="alert" data-testid="refused">
          <p>
            <strong>Access refused.</strong> {(records.error as Error).message}
          </p>
          <p>
            The patient has not given you access to these records for this purpose, or has revoked it. In an
            emergency, use{' '}
            <a href={`#/break-glass?patient=${encodeURIComponent(patientId)}`}>emergency access</a>.
          </p>
        </div>
      )}
      {records.error !== undefined && !refused && (
        <ErrorMessage error={records.error} onRetry={records.reload} />
      )}
      {!records.data && !records.error && <Loading>Loading the patient's records…</Loading>}
      {checks.error !== undefined && <ErrorMessage error={checks.error} onRetry={checks.reload} />}
      {records.data && !records.error && (
        <RecordView
          records={records.data.loaded}
          checks={checks.data}
          localName={config.data?.institution ?? 'this node'}
          banner
        />
      )}
    </>
  );
}
