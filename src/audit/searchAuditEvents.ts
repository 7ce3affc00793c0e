/**
 * `GET /fhir/AuditEvent?patient=&agent=&date=&action=&outcome=&_count=` as a plain function: finds
 * events through the blind indexes and the clear columns, newest first, and returns them decrypted
 * and verified (a tampered event fails the search with IntegrityError, never served).
 * @see https://hl7.org/fhir/R4/auditevent.html#search
 */
import type { SqlParam } from '../store/db.ts';
import type { AuditContext } from './AuditContext.ts';
import { dateConditions } from './auditDateRange.ts';
import { blindIndex, loadAuditIndexKey } from './blindIndex.ts';
import { InvalidAuditQueryError } from './errors.ts';
import { readVerifiedAuditEvents } from './readVerifiedAuditEvents.ts';
import type { AuditEventResource } from './toAuditEventResource.ts';

export interface SearchAuditEventsParameters {
  /** `Patient/123` or `123`. */
  patient?: string;
  /** A user name, `Practitioner/1` (fhirUser), a chain address, or a client id. */
  agent?: string;
  /** FHIR date search values with prefixes, all must hold: `['ge2024-01-01', 'lt2024-02']`. */
  date?: string | readonly string[];
  /** C, R, U, D or E. */
  action?: string;
  /** 0, 4, 8 or 12. */
  outcome?: string;
  /** Page size, 1..1000. Default 50. */
  _count?: number;
  /** Events to skip (paging). Default 0. */
  offset?: number;
}

export interface SearchAuditEventsResult {
  resources: AuditEventResource[];
  /** Whether another page follows. */
  hasMore: boolean;
}

export async function searchAuditEvents(
  ctx: AuditContext,
  parameters: SearchAuditEventsParameters,
): Promise<SearchAuditEventsResult> {
  const count = parameters._count ?? 50;
  const offset = parameters.offset ?? 0;
  if (!Number.isInteger(count) || count < 1 || count > 1000)
    throw new InvalidAuditQueryError('_count must be an integer between 1 and 1000');
  if (!Number.isInteger(offset) || offset < 0)
    throw new InvalidAuditQueryError('offset must be a non-negative integer');
  const conditions: string[] = [];
  const params: SqlParam[] = [];
  const add = (sql: (p: string) => string, value: SqlParam) => {
    params.push(value);
    conditions.push(sql(`$${params.length}`));
  };
  if (parameters.patient !== undefined || parameters.agent !== undefined) {
    const key = await loadAuditIndexKey(ctx.db, ctx.keyring);
    if (parameters.patient !== undefined)
      add(
        (p) => `(e.patient_index = ${p} OR e.patient_indexes @> ARRAY[${p}::bytea])`,
        blindIndex(key, 'patient', patientReference(parameters.patient)),
      );
    if (parameters.agent !== undefined)
      add(
        (p) => `e.agent_index @> ARRAY[decode(${p}, 'hex')]`,
        blindIndex(key, 'agent', agentKey(parameters.agent)).toString('hex'),
      );
  }
  const dates =
    parameters.date === undefined
      ? []
      : typeof parameters.date === 'string'
        ? [parameters.date]
        : parameters.date;
  for (const value of dates) {
    for (const c of dateConditions(value))
      add((p) => `e.recorded ${c.op} ${p}::timestamptz`, c.at.toISOString());
  }
  if (parameters.action !== undefined) {
    if (!/^[CRUDE]$/.test(parameters.action))
      throw new InvalidAuditQueryError('action must be one of C, R, U, D, E');
    add((p) => `e.action = ${p}`, parameters.action);
  }
  if (parameters.outcome !== undefined) {
    if (!/^(0|4|8|12)$/.test(parameters.outcome))
      throw new InvalidAuditQueryError('outcome must be 0, 4, 8 or 12');
    add((p) => `e.outcome = ${p}::smallint`, parameters.outcome);
  }
  params.push(count + 1, offset);
  const rows = await readVerifiedAuditEvents(
    ctx,
    conditions.join(' AND '),
    `ORDER BY e.seq DESC LIMIT $${params.length - 1} OFFSET $${params.length}`,
    params,
  );
  return { resources: rows.slice(0, count).map((r) => r.resource), hasMore: rows.length > count };
}

/** `123` and `Patient/123` name the same patient. */
export function patientReference(patient: string): string {
  const reference = patient.includes('/') ? patient : `Patient/${patient}`;
  if (!/^Patient\/[A-Za-z0-9\-.]{1,64}$/.test(reference))
    throw new InvalidAuditQueryError(`not a patient reference: ${patient}`);
  return reference;
}

function agentKey(agent: string): string {
  return /^0x[0-9a-fA-F]{40}$/.test(agent) ? agent.toLowerCase() : agent;
}
