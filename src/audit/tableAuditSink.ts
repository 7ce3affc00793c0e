/** The durable audit sink: one row per event in `audit_events` (PostgreSQL / PGlite). */
import type { Queryable } from '../store/db.ts';
import type { AuditEventInput, AuditSink } from './AuditSink.ts';

export function tableAuditSink(db: Queryable): AuditSink {
  return {
    async append(event: AuditEventInput): Promise<void> {
      await db.query(
        `INSERT INTO audit_events (recorded, action, subtype, outcome, patient, agent_client, agent_user, agent_address,
           purpose, consent_basis, consent_block, event)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12::jsonb)`,
        [
          event.recorded,
          event.action,
          event.subtype,
          Number(event.outcome),
          event.entity.patient ?? null,
          event.agent.clientId ?? null,
          event.agent.user ?? null,
          event.agent.address ?? null,
          event.purposeOfUse,
          event.consent?.basis ?? null,
          event.consent?.block ?? null,
          JSON.stringify(event),
        ],
      );
    },
  };
}

/** Collects events in memory (tests, and callers that batch before appending). */
export function memoryAuditSink(): AuditSink & { events: AuditEventInput[] } {
  const events: AuditEventInput[] = [];
  return {
    events,
    async append(event) {
      events.push(event);
    },
  };
}
