import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../store/db.ts';
import { testDatabases } from '../store/testing/databases.ts';
import type { AuditEventInput } from './AuditSink.ts';
import { tableAuditSink } from './tableAuditSink.ts';

const event = (patient: string, outcome: AuditEventInput['outcome']): AuditEventInput => ({
  type: { system: 'http://terminology.hl7.org/CodeSystem/audit-event-type', code: 'rest' },
  subtype: 'read',
  action: 'R',
  recorded: new Date().toISOString(),
  outcome,
  outcomeDesc: outcome === '0' ? 'consent (grant)' : 'no consent',
  agent: { clientId: 'c-1', address: '0x00000000000000000000000000000000000000bb', network: '10.0.0.7' },
  source: { observer: '0x00000000000000000000000000000000000000aa' },
  entity: { patient, resources: ['Observation/9'] },
  purposeOfUse: 'TREAT',
  consent: { basis: outcome === '0' ? 'grant' : 'none', block: '42', sourceBlock: '40' },
});

describe.each(testDatabases)('table audit sink on $name', ({ open }) => {
  let db: Db;
  beforeAll(async () => {
    db = await open();
  });
  afterAll(async () => {
    await db?.close();
  });

  it('appends allowed and denied events durably, queryable by patient', async () => {
    const sink = tableAuditSink(db);
    await sink.append(event('Patient/p-1', '0'));
    await sink.append(event('Patient/p-1', '4'));
    await sink.append(event('Patient/p-2', '0'));
    const rows = await db.query<{ outcome: number; consent_block: string; event: AuditEventInput | string }>(
      `SELECT outcome, consent_block::text AS consent_block, event FROM audit_events WHERE patient = 'Patient/p-1' ORDER BY seq`,
    );
    expect(rows.map((r) => r.outcome)).toEqual([0, 4]);
    expect(rows[0]!.consent_block).toBe('42');
    const stored = typeof rows[1]!.event === 'string' ? JSON.parse(rows[1]!.event) : rows[1]!.event;
    expect({ ...stored, recorded: 'x' }).toEqual({ ...event('Patient/p-1', '4'), recorded: 'x' });
  });

  it('refuses to change or delete a recorded event', async () => {
    await tableAuditSink(db).append(event('Patient/p-3', '0'));
    await expect(
      db.query(`UPDATE audit_events SET event = '{}'::jsonb WHERE patient = 'Patient/p-3'`),
    ).rejects.toThrow(/append-only/);
    await expect(db.query(`DELETE FROM audit_events WHERE patient = 'Patient/p-3'`)).rejects.toThrow(
      /append-only/,
    );
    const rows = await db.query(`SELECT 1 FROM audit_events WHERE patient = 'Patient/p-3'`);
    expect(rows).toHaveLength(1);
  });
});
