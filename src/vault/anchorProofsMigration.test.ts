/**
 * Upgrade: a database written before `0100_anchor_proofs` (batch columns on every leaf row) is
 * migrated with every batched leaf's batch, index and proof moved to `anchor_proofs`, pending
 * leaves left pending, and the old columns gone.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { migrations } from '../node/migrations.ts';
import type { Db } from '../store/db.ts';
import { migrate } from '../store/migrate.ts';
import { openDatabase } from '../store/openDatabase.ts';
import { TEST_DATABASE_URL } from '../store/testing/databases.ts';
import { lastBatchedSeq } from './buildAnchorBatch.ts';

const UPGRADE = migrations.findIndex((m) => m.id === '0100_anchor_proofs');
const bytes = (n: number, fill: number) => Buffer.alloc(n, fill);

describe.each(['pglite', 'postgres'] as const)('upgrade to anchor_proofs on %s', (kind) => {
  let db: Db | undefined;
  const schema = `t_${randomBytes(6).toString('hex')}`;
  afterEach(async () => {
    if (kind === 'postgres') await db?.exec(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => {});
    await db?.close();
    db = undefined;
  });

  it('moves every batched leaf of both kinds, keeps pending leaves pending, drops the old columns', async () => {
    expect(UPGRADE).toBeGreaterThan(0);
    db = await openDatabase({
      ...(kind === 'postgres' ? { databaseUrl: TEST_DATABASE_URL, schema } : { dataDir: 'memory://' }),
      migrations: migrations.slice(0, UPGRADE),
    });
    // As the batcher of the previous release left them: record 1 and event 1 batched, record 2 pending.
    for (const [version, batched] of [
      [1, true],
      [2, false],
    ] as const)
      await db.query(
        `INSERT INTO record_versions (resource_type, resource_id, version_id, last_updated, ciphertext, wrapped_key,
           kek_id, content_commitment, leaf, batch_sequence, batch_index, proof)
         VALUES ('Patient', 'p1', $1, now(), $2, $3, 'kek-a', $4, $5, $6, $7, $8)`,
        [
          version,
          bytes(40, version),
          bytes(60, version),
          bytes(32, version),
          bytes(32, 10 + version),
          batched ? 0 : null,
          batched ? 0 : null,
          batched ? bytes(64, 7) : null,
        ],
      );
    await db.query(
      `INSERT INTO audit_events (seq, recorded, action, outcome, ciphertext, wrapped_key, kek_id, content_commitment,
         leaf, batch_sequence, batch_index, proof)
       VALUES (1, now(), 'R', 0, $1, $2, 'kek-a', $3, $4, 0, 0, $5)`,
      [bytes(40, 1), bytes(60, 1), bytes(32, 1), bytes(32, 21), bytes(32, 8)],
    );

    await db.query(
      `INSERT INTO anchor_batches (kind, sequence, root, leaf_count, first_seq, last_seq) VALUES (0, 0, $1, 1, 1, 1)`,
      [bytes(32, 3)],
    );

    expect(await migrate(db, migrations)).toContain('0100_anchor_proofs');

    const proofs = await db.query<{
      kind: number;
      seq: string;
      batch_sequence: string;
      batch_index: number;
      proof: Uint8Array;
    }>(
      'SELECT kind, seq::text AS seq, batch_sequence::text AS batch_sequence, batch_index, proof FROM anchor_proofs ORDER BY kind, anchor_proofs.seq',
    );
    expect(proofs.map((p) => ({ ...p, proof: Buffer.from(p.proof) }))).toEqual([
      { kind: 0, seq: '1', batch_sequence: '0', batch_index: 0, proof: bytes(64, 7) },
      { kind: 1, seq: '1', batch_sequence: '0', batch_index: 0, proof: bytes(32, 8) },
    ]);
    const pending = await db.query<{ seq: string }>(
      `SELECT seq::text AS seq FROM record_versions WHERE seq > ${lastBatchedSeq(0)} ORDER BY record_versions.seq`,
    );
    expect(pending.map((r) => r.seq)).toEqual(['2']);
    const old = await db.query(
      `SELECT table_name, column_name FROM information_schema.columns
       WHERE table_schema = current_schema() AND table_name IN ('record_versions', 'audit_events')
         AND column_name IN ('batch_sequence', 'batch_index', 'proof')`,
    );
    expect(old).toEqual([]);
    // The audit log still refuses changes to an event, and still lets rotation re-wrap its data key.
    await expect(db.query('UPDATE audit_events SET outcome = 4 WHERE seq = 1')).rejects.toThrow(
      /append-only/,
    );
    await db.query(`UPDATE audit_events SET wrapped_key = '\\x00'::bytea, kek_id = 'kek-b' WHERE seq = 1`);
    await expect(db.query('DELETE FROM anchor_proofs WHERE kind = 0')).rejects.toThrow(/append-only/);
  });
});
