/**
 * Loads one patient's records for display: `$everything` through the FHIR API (consent decides
 * what comes back), then the inclusion proof of every version shown (one portal request), each
 * checked against the chain in this browser.
 */
import { fhir, request } from '../api.ts';
import { chainClient } from '../verify/chainClient.ts';
import { type AnchorProofJson, type RecordCheck, recordProofChecker } from '../verify/recordProofCheck.ts';
import { type Resource, type TimelineEntry, toTimeline } from './records.ts';

export interface PatientRecords {
  patient: Resource | undefined;
  entries: TimelineEntry[];
  /** Other resources returned (claims, care plans, ...), by type. */
  others: Record<string, number>;
  checks: Map<string, RecordCheck>;
}

type ProofAnswer =
  | { version: string; status: 'proof'; proof: AnchorProofJson }
  | { version: string; status: 'refused' | 'not-found'; reason: string };

export async function loadPatientRecords(
  patientId: string,
  headers: Record<string, string> = {},
): Promise<PatientRecords> {
  const bundle = await fhir<{ entry?: { resource: Resource }[] }>(
    `Patient/${encodeURIComponent(patientId)}/$everything`,
    { headers },
  );
  const resources = (bundle.entry ?? []).map((e) => e.resource);
  const patient = resources.find((r) => r.resourceType === 'Patient');
  const entries = toTimeline(resources);
  const others: Record<string, number> = {};
  const shown = new Set(entries.map((e) => e.key));
  for (const r of resources)
    if (r.resourceType !== 'Patient' && !shown.has(`${r.resourceType}/${r.id}`))
      others[r.resourceType] = (others[r.resourceType] ?? 0) + 1;
  return { patient, entries, others, checks: new Map() };
}

/** Proofs of the shown versions, each checked against the chain; resolves to one check per version. */
export async function checkRecords(
  patientId: string,
  entries: readonly TimelineEntry[],
  headers: Record<string, string> = {},
): Promise<Map<string, RecordCheck>> {
  const checks = new Map<string, RecordCheck>();
  if (entries.length === 0) return checks;
  const { proofs } = await request<{ proofs: ProofAnswer[] }>(
    `/portal/api/patients/${encodeURIComponent(patientId)}/record-proofs`,
    { body: { versions: entries.map((e) => e.version) }, headers },
  );
  const check = recordProofChecker(chainClient());
  await Promise.all(
    proofs.map(async (answer) => {
      if (answer.status !== 'proof') {
        checks.set(answer.version, { state: 'failed', why: answer.reason });
        return;
      }
      checks.set(
        answer.version,
        await check(answer.proof).catch((error: Error) => ({ state: 'failed' as const, why: error.message })),
      );
    }),
  );
  return checks;
}
