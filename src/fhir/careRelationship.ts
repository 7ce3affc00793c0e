/**
 * The care-team basis of treatment access (`MEDLEDGER_TREATMENT_ACCESS=care-team`): whether a
 * practitioner has a care relationship with a patient, from the patient's own records, each read
 * and verified through the vault. A relationship is the practitioner named as the patient's
 * general practitioner, a participant of one of the patient's encounters that is not cancelled or
 * entered in error and ended less than {@link ENCOUNTER_RECENCY_DAYS} ago (or has not ended), or a
 * member of one of the patient's care teams that is active (or has no status). The answer says
 * which, in words, for the audit event. Answers are kept {@link CACHE_MS} per pair.
 */
import { Operator } from '@medplum/core';
import type { CareTeam, Encounter, Patient } from '@medplum/fhirtypes';
import type { NodeContext } from '../context/NodeContext.ts';
import { lookupCandidates } from './search/lookupCandidates.ts';
import type { SearchIndexKey } from './search/SearchIndexKey.ts';

export const ENCOUNTER_RECENCY_DAYS = 365;
const CACHE_MS = 30_000;
const CACHE_MAX = 10_000;

export function careRelationshipOf(
  ctx: Pick<NodeContext, 'db' | 'vault'>,
  key: SearchIndexKey,
): (fhirUser: string, patientId: string) => Promise<string | undefined> {
  const cache = new Map<string, { at: number; answer: string | undefined }>();
  return async (fhirUser, patientId) => {
    if (!fhirUser.startsWith('Practitioner/')) return undefined;
    const cacheKey = `${fhirUser}|${patientId}`;
    const cached = cache.get(cacheKey);
    if (cached && performance.now() - cached.at < CACHE_MS) return cached.answer;
    const answer = await find(ctx, key, fhirUser, patientId);
    if (cache.size >= CACHE_MAX) cache.clear();
    cache.set(cacheKey, { at: performance.now(), answer });
    return answer;
  };
}

async function find(
  ctx: Pick<NodeContext, 'db' | 'vault'>,
  key: SearchIndexKey,
  fhirUser: string,
  patientId: string,
): Promise<string | undefined> {
  const reader = ctx.vault.reader();
  const patientRef = `Patient/${patientId}`;
  const patient = (await reader.read('Patient', patientId).catch(() => undefined))?.resource as
    | Patient
    | undefined;
  if (patient?.generalPractitioner?.some((r) => r.reference === fhirUser))
    return 'the patient’s general practitioner';
  const candidates = (type: string) =>
    lookupCandidates(ctx.db, key, type, [
      { code: 'patient', operator: Operator.EQUALS, value: patientRef },
      { code: 'participant', operator: Operator.EQUALS, value: fhirUser },
    ]);
  const encounters = await candidates('Encounter');
  if (encounters?.size) {
    const cutoff = Date.now() - ENCOUNTER_RECENCY_DAYS * 86_400_000;
    for (const version of (await reader.currentMany('Encounter', [...encounters])).values()) {
      const encounter = version.resource as unknown as Encounter;
      if (encounter.subject?.reference !== patientRef) continue;
      if (encounter.status === 'cancelled' || encounter.status === 'entered-in-error') continue;
      if (!encounter.participant?.some((p) => p.individual?.reference === fhirUser)) continue;
      const end = encounter.period?.end ? Date.parse(encounter.period.end) : undefined;
      if (end === undefined || end >= cutoff) return `participant of Encounter/${encounter.id}`;
    }
  }
  const teams = await candidates('CareTeam');
  if (teams?.size) {
    for (const version of (await reader.currentMany('CareTeam', [...teams])).values()) {
      const team = version.resource as unknown as CareTeam;
      if (team.subject?.reference !== patientRef) continue;
      if (team.status !== undefined && team.status !== 'active') continue;
      if (team.participant?.some((p) => p.member?.reference === fhirUser))
        return `member of CareTeam/${team.id}`;
    }
  }
  return undefined;
}

/**
 * Every practitioner with a current care relationship with the patient, in words (the same rules
 * as {@link careRelationshipOf}), for the patient's "who has access" list.
 */
export async function careTeamOf(
  ctx: Pick<NodeContext, 'db' | 'vault'>,
  key: SearchIndexKey,
  patientId: string,
): Promise<Map<string, string>> {
  const reader = ctx.vault.reader();
  const patientRef = `Patient/${patientId}`;
  const team = new Map<string, string>();
  const add = (reference: string | undefined, words: string) => {
    if (reference?.startsWith('Practitioner/') && !team.has(reference)) team.set(reference, words);
  };
  const patient = (await reader.read('Patient', patientId).catch(() => undefined))?.resource as
    | Patient
    | undefined;
  for (const gp of patient?.generalPractitioner ?? [])
    add(gp.reference, 'the patient’s general practitioner');
  const candidates = (type: string) =>
    lookupCandidates(ctx.db, key, type, [{ code: 'patient', operator: Operator.EQUALS, value: patientRef }]);
  const cutoff = Date.now() - ENCOUNTER_RECENCY_DAYS * 86_400_000;
  const encounters = await candidates('Encounter');
  for (const version of encounters?.size
    ? (await reader.currentMany('Encounter', [...encounters])).values()
    : []) {
    const encounter = version.resource as unknown as Encounter;
    if (encounter.subject?.reference !== patientRef) continue;
    if (encounter.status === 'cancelled' || encounter.status === 'entered-in-error') continue;
    const end = encounter.period?.end ? Date.parse(encounter.period.end) : undefined;
    if (end !== undefined && end < cutoff) continue;
    for (const p of encounter.participant ?? [])
      add(p.individual?.reference, `participant of Encounter/${encounter.id}`);
  }
  const teams = await candidates('CareTeam');
  for (const version of teams?.size ? (await reader.currentMany('CareTeam', [...teams])).values() : []) {
    const careTeam = version.resource as unknown as CareTeam;
    if (careTeam.subject?.reference !== patientRef) continue;
    if (careTeam.status !== undefined && careTeam.status !== 'active') continue;
    for (const p of careTeam.participant ?? []) add(p.member?.reference, `member of CareTeam/${careTeam.id}`);
  }
  return team;
}
