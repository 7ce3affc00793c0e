/**
 * Break-glass: emergency access to a patient's records without their consent. Deliberate by
 * design: the reason is mandatory, the clinician confirms that it is recorded and shown to the
 * patient, and the window's end (from the chain) stays on screen while it is open.
 */
import { useState } from 'react';
import type { Me, MyPatients } from '../../../../src/portal/PortalApi.ts';
import { fhir, request } from '../../api.ts';
import { ErrorMessage } from '../../components/common.tsx';
import { patientAddress, type Resource } from '../../fhir/records.ts';
import { go } from '../../route.ts';

export interface Emergency {
  patientId: string;
  address: string;
  reason: string;
  /** Epoch ms, from the chain. */
  expiresAt: number;
}

const KEY = 'medledger.emergencies';
const all = (): Emergency[] => JSON.parse(sessionStorage.getItem(KEY) ?? '[]') as Emergency[];

export function emergencyOf(patientId: string): Emergency | undefined {
  return all().find((e) => e.patientId === patientId && e.expiresAt > Date.now());
}

/** Headers of reads under an open emergency window for this patient address (none if closed). */
export function emergencyHeaders(address: string): Record<string, string> {
  const open = all().find((e) => e.address === address && e.expiresAt > Date.now());
  return open ? { 'x-purpose-of-use': 'ETREAT', 'x-break-glass-reason': open.reason } : {};
}

export function BreakGlassForm({ me }: { me: Me }) {
  const initial = new URLSearchParams(location.hash.split('?')[1] ?? '').get('patient') ?? '';
  const [patientId, setPatientId] = useState(initial);
  const [reason, setReason] = useState('');
  const [confirmed, setConfirmed] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const [family, setFamily] = useState('');
  const [birthDate, setBirthDate] = useState('');
  const [candidates, setCandidates] = useState<Resource[]>();
  const find = async () => {
    setError(undefined);
    if (reason.trim().length < 10)
      return setError(
        new Error('Describe the emergency first (at least 10 characters): the lookup is recorded.'),
      );
    try {
      const found = await fhir<{ entry?: { resource: Resource }[] }>('Patient/$emergency-lookup', {
        headers: { 'x-purpose-of-use': 'ETREAT', 'x-break-glass-reason': reason.trim() },
        body: {
          resourceType: 'Parameters',
          parameter: [
            { name: 'family', valueString: family.trim() },
            { name: 'birthdate', valueString: birthDate },
          ],
        },
      });
      const list = (found.entry ?? []).map((e) => e.resource);
      setCandidates(list);
      if (list.length === 1 && list[0]?.id) setPatientId(list[0].id);
    } catch (err) {
      setError(err);
    }
  };
  return (
    <>
      <h1 tabIndex={-1}>Emergency access (break-glass)</h1>
      <div className="banner-emergency">
        <p>
          Use this only when a patient needs care now and cannot give consent. Your reason is recorded on the
          chain (as a hash) and in the audit log, the patient sees it in their access report, and privacy
          officers review every use. Access ends by itself after 4 hours.
        </p>
      </div>
      <form
        className="card"
        onSubmit={(e) => {
          e.preventDefault();
          setError(undefined);
          if (reason.trim().length < 10)
            return setError(new Error('Describe the emergency (at least 10 characters).'));
          setBusy(true);
          (async () => {
            const headers = { 'x-purpose-of-use': 'ETREAT', 'x-break-glass-reason': reason.trim() };
            const patient = await fhir<Resource>(`Patient/${encodeURIComponent(patientId.trim())}`, {
              headers,
            });
            const address = patientAddress(patient);
            if (!address)
              throw new Error('This patient has no chain identity; break-glass cannot be recorded.');
            const { accesses } = await request<MyPatients>('/portal/api/my-patients');
            const window = accesses.find((a) => a.kind === 'break-glass' && a.patientAddress === address);
            const expiresAt = window ? window.expiry * 1000 : Date.now() + 4 * 3600 * 1000;
            const list = all().filter((x) => x.patientId !== patient.id);
            list.push({ patientId: patient.id!, address, reason: reason.trim(), expiresAt });
            sessionStorage.setItem(KEY, JSON.stringify(list));
            go(`/patients/${encodeURIComponent(patient.id!)}`);
          })().catch((err: unknown) => {
            setError(err);
            setBusy(false);
          });
        }}
      >
        <label htmlFor="bg-reason">Reason (required)</label>
        <textarea
          id="bg-reason"
          required
          minLength={10}
          rows={3}
          value={reason}
          onChange={(e) => setReason(e.target.value)}
          aria-describedby="bg-reason-hint"
        />
        <p id="bg-reason-hint" className="hint">
          For example: “unconscious in the emergency department, suspected overdose”.
        </p>
        <fieldset className="lookup">
          <legend>Find the patient</legend>
          <label htmlFor="bg-family">Family name</label>
          <input
            id="bg-family"
            value={family}
            onChange={(e) => setFamily(e.target.value)}
            autoComplete="off"
          />
          <label htmlFor="bg-birthdate">Birth date</label>
          <input
            id="bg-birthdate"
            type="date"
            value={birthDate}
            onChange={(e) => setBirthDate(e.target.value)}
          />
          <button type="button" onClick={() => void find()} disabled={!family.trim() || !birthDate}>
            Find patient
          </button>
          {candidates !== undefined && candidates.length === 0 && (
            <p className="empty" role="status">
              No patient with exactly this family name and birth date.
            </p>
          )}
          {candidates !== undefined && candidates.length > 0 && (
            <ul className="candidates" aria-label="Matching patients">
              {candidates.map((c) => {
                const name = c.name?.[0];
                const label = `${[...(name?.given ?? []), name?.family].filter(Boolean).join(' ')}, born ${c.birthDate ?? '?'}${c.gender ? `, ${c.gender}` : ''}`;
                return (
                  <li key={c.id}>
                    <label className="check">
                      <input
                        type="radio"
                        name="bg-candidate"
                        checked={patientId === c.id}
                        onChange={() => setPatientId(c.id ?? '')}
                      />{' '}
                      {label}
                    </label>
                  </li>
                );
              })}
            </ul>
          )}
        </fieldset>
        <label htmlFor="bg-patient">Patient ID</label>
        <input
          id="bg-patient"
          required
          value={patientId}
          onChange={(e) => setPatientId(e.target.value)}
          autoComplete="off"
        />
        <label className="check">
          <input
            type="checkbox"
            checked={confirmed}
            onChange={(e) => setConfirmed(e.target.checked)}
            required
          />{' '}
          I, {me.username}, confirm this is an emergency and understand this access is recorded and reviewed.
        </label>
        {error !== undefined && <ErrorMessage error={error} />}
        <button type="submit" className="danger" disabled={!confirmed || busy}>
          {busy ? 'Opening emergency access on chain…' : 'Open emergency access'}
        </button>
      </form>
    </>
  );
}
