import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabases } from '../store/testing/databases.ts';
import { readVerifiedAuditEvents } from './readVerifiedAuditEvents.ts';
import { memoryAuditSink, tableAuditSink } from './tableAuditSink.ts';
import { openTestAudit, sampleAuditEvent, type TestAudit } from './testing/openTestAudit.ts';

describe.each(testDatabases)('sealed audit log on $name', (database) => {
  let t: TestAudit;
  beforeAll(async () => {
    t = await openTestAudit(database);
  });
  afterAll(async () => {
    await t?.close();
  });

  it('concurrent appends are all committed before they resolve, with gap-free ordered seqs', async () => {
    const before = await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM audit_events');
    await Promise.all(
      Array.from({ length: 300 }, (_, i) =>
        t.sink.append(sampleAuditEvent(`Patient/p-${i % 3}`, { outcomeDesc: `n${i}` })),
      ),
    );
    const rows = await t.db.query<{ seq: string }>(
      'SELECT e.seq::text AS seq FROM audit_events e ORDER BY e.seq',
    );
    expect(rows.length).toBe((before[0]?.n ?? 0) + 300);
    expect(rows.map((r) => Number(r.seq))).toEqual(rows.map((_, i) => i + 1));
  });

  it('stores neither the patient, the agent nor the content in clear', async () => {
    await t.sink.append(sampleAuditEvent('Patient/secret-patient-42', { breakGlassReason: 'unconscious' }));
    const rows = await t.db.query<Record<string, unknown>>('SELECT * FROM audit_events');
    const dump = JSON.stringify(rows, (_, v) =>
      v instanceof Uint8Array ? Buffer.from(v).toString('latin1') : v,
    );
    for (const secret of [
      'secret-patient-42',
      'dr.house',
      'Practitioner/7',
      'ehr-app',
      'unconscious',
      '10.0.0.7',
    ])
      expect(dump).not.toContain(secret);
    const columns = Object.keys(rows[0] ?? {});
    expect(columns).not.toContain('event');
    expect(columns).not.toContain('patient');
  });

  it('refuses to change or delete a recorded event or its proof once batched', async () => {
    await expect(t.db.query(`UPDATE audit_events SET outcome = 4 WHERE seq = 1`)).rejects.toThrow(
      /append-only/,
    );
    await expect(
      t.db.query(`UPDATE audit_events SET ciphertext = '\\x00'::bytea WHERE seq = 1`),
    ).rejects.toThrow(/append-only/);
    await expect(t.db.query('DELETE FROM audit_events WHERE seq = 1')).rejects.toThrow(/append-only/);
    await expect(t.db.query('TRUNCATE audit_events')).rejects.toThrow(/append-only/);
    const [batch] = await t.batcher.flush();
    expect(batch?.kind).toBe(1);
    expect(batch?.leafCount).toBe(301);
    // The batch wrote proof rows; the events themselves were not rewritten, and proofs are append-only too.
    await expect(
      t.db.query('UPDATE anchor_proofs SET batch_index = 7 WHERE kind = 1 AND seq = 1'),
    ).rejects.toThrow(/append-only/);
    await expect(t.db.query('DELETE FROM anchor_proofs WHERE kind = 1 AND seq = 1')).rejects.toThrow(
      /append-only/,
    );
    await expect(t.db.query('TRUNCATE anchor_proofs')).rejects.toThrow(/append-only/);
    const [row] = await t.db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM audit_events e JOIN anchor_proofs p ON p.kind = 1 AND p.seq = e.seq',
    );
    expect(row?.n).toBe(301);
  });

  it('an append that cannot be committed rejects with ERR_AUDIT_WRITE', async () => {
    const broken = sampleAuditEvent('Patient/p-1', { recorded: 'not a time' });
    await expect(t.sink.append(broken)).rejects.toMatchObject({ code: 'ERR_AUDIT_WRITE' });
    await expect(t.sink.append(sampleAuditEvent('Patient/p-1'))).resolves.toBeUndefined();
  });

  it('a group that fails while the next one is already sealed behind it: the next is sealed again and committed gap-free', async () => {
    const small = tableAuditSink(t.db, { keyring: t.keyring, maxGroup: 4 });
    const [before] = await t.db.query<{ max: string }>(
      'SELECT COALESCE(MAX(seq), 0)::text AS max FROM audit_events',
    );
    const from = Number(before?.max ?? 0);
    // Same tick: groups of 4; the second group (events 4-7) cannot be committed, so the groups
    // sealed after it at seq it never took must be sealed again.
    const results = await Promise.allSettled(
      Array.from({ length: 16 }, (_, i) =>
        small.append(
          sampleAuditEvent(`Patient/p-${i % 3}`, {
            outcomeDesc: `pipe-${i}`,
            ...(i >= 4 && i < 8 ? { recorded: 'not a time' } : {}),
          }),
        ),
      ),
    );
    expect(results.map((r) => r.status)).toEqual(
      Array.from({ length: 16 }, (_, i) => (i >= 4 && i < 8 ? 'rejected' : 'fulfilled')),
    );
    const verified = await readVerifiedAuditEvents(t.ctx, 'e.seq > $1', 'ORDER BY e.seq', [from]);
    expect(verified.map((v) => Number(v.row.seq))).toEqual(
      Array.from({ length: 12 }, (_, i) => from + i + 1),
    );
    expect(verified.map((v) => v.resource.outcomeDesc)).toEqual(
      [0, 1, 2, 3, 8, 9, 10, 11, 12, 13, 14, 15].map((i) => `pipe-${i}`),
    );
  });

  it('two sinks on one database (a node and a CLI beside it) interleave without a gap, a duplicate or a mis-sealed event', async () => {
    const other = tableAuditSink(t.db, { keyring: t.keyring });
    const [before] = await t.db.query<{ max: string }>(
      'SELECT COALESCE(MAX(seq), 0)::text AS max FROM audit_events',
    );
    const appends: Promise<void>[] = [];
    for (let i = 0; i < 120; i++) {
      const sink = i % 3 === 0 ? other : t.sink;
      appends.push(sink.append(sampleAuditEvent(`Patient/p-${i % 4}`, { outcomeDesc: `both-${i}` })));
      if (i % 10 === 9) await Promise.all(appends.splice(0));
    }
    await Promise.all(appends);
    await other.flush();
    const from = Number(before?.max ?? 0);
    const rows = await t.db.query<{ seq: string }>(
      'SELECT seq::text AS seq FROM audit_events WHERE seq > $1 ORDER BY audit_events.seq',
      [from],
    );
    expect(rows.map((r) => Number(r.seq))).toEqual(Array.from({ length: 120 }, (_, i) => from + i + 1));
    // Every event decrypts and its leaf (which commits to its seq) checks out: none was sealed under a stale seq.
    const verified = await readVerifiedAuditEvents(t.ctx, 'e.seq > $1', 'ORDER BY e.seq', [from]);
    expect(verified.length).toBe(120);
    const descriptions = verified.map((v) => v.resource.outcomeDesc).sort();
    expect(new Set(descriptions).size).toBe(120);
  });
});

describe('memory audit sink', () => {
  it('collects events in order', async () => {
    const sink = memoryAuditSink();
    await sink.append(sampleAuditEvent('Patient/a'));
    await sink.append(sampleAuditEvent('Patient/b'));
    expect(sink.events.map((e) => e.entity.patient)).toEqual(['Patient/a', 'Patient/b']);
  });
});
