/**
 * Loads one patient's records for display: `$everything` through the FHIR API (consent decides
 * what comes back), then the inclusion proof of every version shown (one portal request), each
 * checked against the chain in this browser. Both are kept for the tab's life: switching screens
 * neither downloads the record again nor re-verifies a version already verified (a version is
 * immutable, so its proof holds for good); only versions new or not yet anchored are asked for.
 */
import type { RecordProofs, RecordProofsRequest } from '../../../src/portal/PortalApi.ts';
import { fhir, request } from '../api.ts';
import { onSessionEnd } from '../auth/session.ts';
import { chainClient } from '../verify/chainClient.ts';
import { type RecordCheck, recordProofChecker } from '../verify/recordProofCheck.ts';
import { type RecordEntry, type Resource, toRecords } from './records.ts';

export interface PatientRecords {
  patient: Resource | undefined;
  records: RecordEntry[];
  /** Resource types returned that the portal does not render (counted, never hidden silently). */
  others: Record<string, number>;
}

const loaded = new Map<string, Promise<PatientRecords>>();

/** The patient's records as this user may see them (`headers`: purpose of use, break-glass). */
export function loadPatientRecords(
  patientId: string,
  headers: Record<string, string> = {},
  options: { fresh?: boolean } = {},
): Promise<PatientRecords> {
  const key = JSON.stringify([patientId, headers]);
  const cached = loaded.get(key);
  if (cached && !options.fresh) return cached;
  const loading = fetchRecords(patientId, headers);
  loaded.set(key, loading);
  loading.catch(() => loaded.delete(key));
  return loading;
}

async function fetchRecords(patientId: string, headers: Record<string, string>): Promise<PatientRecords> {
  const bundle = await fhir<{ entry?: { resource: Resource }[] }>(
    `Patient/${encodeURIComponent(patientId)}/$everything`,
    { headers },
  );
  const resources = (bundle.entry ?? []).map((e) => e.resource);
  const patient = resources.find((r) => r.resourceType === 'Patient');
  const records = toRecords(resources);
  const others: Record<string, number> = {};
  const shown = new Set(records.map((e) => e.key));
  for (const r of resources)
    if (
      r.resourceType !== 'Patient' &&
      r.resourceType !== 'Provenance' &&
      !shown.has(`${r.resourceType}/${r.id}`)
    )
      others[r.resourceType] = (others[r.resourceType] ?? 0) + 1;
  return { patient, records, others };
}

/** Versions verified in this tab: a version never changes, so its verdict stands. */
const verified = new Map<string, RecordCheck>();

// Nothing read for one user outlives their session in this tab.
onSessionEnd(() => {
  loaded.clear();
  verified.clear();
});

/**
 * One check per version of `entries`: remembered verdicts for versions verified before, and the
 * proofs of the others fetched in one request and folded up to the root read from the chain.
 */
export async function checkRecords(
  patientId: string,
  entries: readonly RecordEntry[],
  headers: Record<string, string> = {},
): Promise<Map<string, RecordCheck>> {
  const checks = new Map<string, RecordCheck>();
  const wanted: string[] = [];
  for (const e of entries) {
    const known = verified.get(e.version);
    if (known) checks.set(e.version, known);
    else wanted.push(e.version);
  }
  if (wanted.length === 0) return checks;
  const { proofs } = await request<RecordProofs>(
    `/portal/api/patients/${encodeURIComponent(patientId)}/record-proofs`,
    { body: { versions: wanted } satisfies RecordProofsRequest, headers },
  );
  const check = recordProofChecker(chainClient());
  await Promise.all(
    proofs.map(async (answer) => {
      if (answer.status !== 'proof') {
        checks.set(answer.version, { state: 'failed', why: answer.reason });
        return;
      }
      const result = await check(answer.proof).catch((error: Error) => ({
        state: 'failed' as const,
        why: error.message,
      }));
      if (result.state === 'verified') verified.set(answer.version, result);
      checks.set(answer.version, result);
    }),
  );
  return checks;
}
