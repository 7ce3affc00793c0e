/**
 * The insider's toolbox against `medledger verify`: each test tampers with the database the way an
 * administrator could (triggers disabled, rows changed, deleted, reordered, inserted, a batch dropped,
 * the database restored from an older copy) inside a transaction that is rolled back afterwards, and
 * asserts the verifier names the row and the batch.
 */
import type { Address } from 'viem';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestAudit, sampleAuditEvent, type TestAudit } from '../audit/testing/openTestAudit.ts';
import type { ContractAddresses } from '../chain/contractAddresses.ts';
import type { Queryable } from '../store/db.ts';
import { testDatabases } from '../store/testing/databases.ts';
import { type AnvilAnchors, startAnvilAnchors } from '../vault/testing/anvilAnchors.ts';
import { openTestVault, type TestVault } from '../vault/testing/openTestVault.ts';
import { anchorPendingBatches } from './testing/anchorPendingBatches.ts';
import type { VerifyReport } from './VerifyReport.ts';
import { verifyDatabase } from './verifyDatabase.ts';

const SNAPSHOT_TABLES = [
  'record_versions',
  'audit_events',
  'anchor_batches',
  'anchor_proofs',
  'chain_anchored_roots',
] as const;

class RolledBack extends Error {
  constructor(readonly report: VerifyReport) {
    super('rolled back');
  }
}

let chain: AnvilAnchors;
beforeAll(async () => {
  chain = await startAnvilAnchors();
});
afterAll(async () => {
  await chain?.stop();
});

describe.each(testDatabases)('medledger verify on $name', (database) => {
  let vault: TestVault;
  let audit: TestAudit;
  let addresses: ContractAddresses;
  let member: Address;

  async function round(records: number, events: number): Promise<void> {
    for (let i = 0; i < records; i++)
      await vault.vault.create({ resourceType: 'Observation', status: 'final', valueInteger: i });
    await audit.sink.appendMany(
      Array.from({ length: events }, (_, i) =>
        sampleAuditEvent(`Patient/p-${i % 2}`, { outcome: i % 3 === 0 ? '4' : '0' }),
      ),
    );
    await vault.batcher.flush();
    await audit.batcher.flush();
  }

  beforeAll(async () => {
    addresses = await chain.deploy();
    member = chain.walletClient.account.address;
    vault = await openTestVault(database, { batcher: { maxLeaves: 1000, maxDelayMs: 600_000 } });
    audit = await openTestAudit(database, { db: vault.db, dataDir: vault.dataDir });
    await round(6, 9);
    await round(5, 7);
    await anchorPendingBatches(vault.db, chain, addresses);
    for (const table of SNAPSHOT_TABLES)
      await vault.db.query(`CREATE TABLE snap_${table} AS SELECT * FROM ${table}`);
    await round(4, 6);
    await anchorPendingBatches(vault.db, chain, addresses);
    // Recent, not yet batched: pending within the anchoring delay is fine.
    await audit.sink.appendMany([sampleAuditEvent('Patient/p-0'), sampleAuditEvent('Patient/p-1')]);
  });
  afterAll(async () => {
    await audit?.sink.flush();
    await audit?.batcher.stop();
    await vault?.close();
  });

  function verify(db: Queryable, options: { keys?: boolean; now?: Date } = {}): Promise<VerifyReport> {
    return verifyDatabase({
      db,
      chain: {
        publicClient: chain.publicClient,
        anchors: addresses.anchors,
        member,
        fromBlock: BigInt(addresses.deployBlock),
      },
      keyring: options.keys === false ? undefined : vault.keyring,
      maxPendingAgeMs: 60_000,
      chunkSize: 7,
      ...(options.now ? { now: options.now } : {}),
    });
  }

  /** Tampers inside a transaction, verifies there, and rolls everything back. */
  async function tampered(tamper: (tx: Queryable) => Promise<unknown>, options: { keys?: boolean } = {}) {
    try {
      await vault.db.transaction(async (tx) => {
        await tx.query('ALTER TABLE audit_events DISABLE TRIGGER USER');
        await tx.query('ALTER TABLE anchor_proofs DISABLE TRIGGER USER');
        await tamper(tx);
        throw new RolledBack(await verify(tx, options));
      });
    } catch (error) {
      if (error instanceof RolledBack) return error.report;
      throw error;
    }
    throw new Error('unreachable');
  }

  const checks = (report: VerifyReport) => report.findings.map((f) => f.check);

  it('a clean database verifies, with and without keys', async () => {
    const withKeys = await verify(vault.db);
    expect(withKeys.findings).toEqual([]);
    expect(withKeys.ok).toBe(true);
    expect(withKeys.counts.records).toMatchObject({
      rows: 15,
      anchored: 15,
      contentChecked: 15,
      localBatches: 3,
      chainBatches: 3,
    });
    expect(withKeys.counts.audit).toMatchObject({
      rows: 24,
      anchored: 22,
      pending: 2,
      contentChecked: 24,
      chainBatches: 3,
    });
    const withoutKeys = await verify(vault.db, { keys: false });
    expect(withoutKeys.ok).toBe(true);
    expect(withoutKeys.counts.audit.contentChecked).toBe(0);
  });

  it('a changed event field is named: ciphertext without keys, a clear column with keys', async () => {
    const cipher = await tampered(
      (tx) =>
        tx.query(
          `UPDATE audit_events SET ciphertext = set_byte(ciphertext, 20, get_byte(ciphertext, 20) # 1) WHERE seq = 4`,
        ),
      { keys: false },
    );
    expect(cipher.findings).toContainEqual(
      expect.objectContaining({ check: 'leaf-mismatch', kind: 'audit', row: 'AuditEvent/4', batch: '0' }),
    );
    const clear = await tampered((tx) => tx.query('UPDATE audit_events SET outcome = 0 WHERE seq = 1'));
    expect(clear.findings).toContainEqual(
      expect.objectContaining({ check: 'clear-columns', row: 'AuditEvent/1' }),
    );
  });

  it('a deleted event is named by its seq and its batch no longer matches the chain', async () => {
    const report = await tampered((tx) => tx.query('DELETE FROM audit_events WHERE seq = 12'));
    expect(report.findings).toContainEqual(
      expect.objectContaining({ check: 'seq-gap', seq: '12', kind: 'audit' }),
    );
    expect(report.findings).toContainEqual(
      expect.objectContaining({ check: 'batch-leaf-count', kind: 'audit', batch: '1' }),
    );
    expect(checks(report)).toContain('batch-leaves-mismatch');
  });

  it('two reordered events are both named', async () => {
    const report = await tampered(
      async (tx) => {
        await tx.query('UPDATE audit_events SET seq = 1000 WHERE seq = 2');
        await tx.query('UPDATE audit_events SET seq = 2 WHERE seq = 3');
        await tx.query('UPDATE audit_events SET seq = 3 WHERE seq = 1000');
      },
      { keys: false },
    );
    const named = report.findings.filter((f) => f.check === 'leaf-mismatch').map((f) => f.row);
    expect(named).toEqual(['AuditEvent/2', 'AuditEvent/3']);
  });

  it('an inserted event is named, batched or pending', async () => {
    const batched = await tampered(async (tx) => {
      await tx.query(`INSERT INTO audit_events SELECT 25, recorded, action, outcome, patient_index, agent_index, ciphertext,
        wrapped_key, kek_id, content_commitment, leaf FROM audit_events WHERE seq = 5`);
      await tx.query(`INSERT INTO anchor_proofs SELECT kind, 25, batch_sequence, batch_index, proof
        FROM anchor_proofs WHERE kind = 1 AND seq = 5`);
    });
    expect(batched.findings).toContainEqual(
      expect.objectContaining({ check: 'leaf-mismatch', row: 'AuditEvent/25' }),
    );
    expect(batched.findings).toContainEqual(
      expect.objectContaining({ check: 'batch-not-contiguous', row: 'AuditEvent/25' }),
    );
    // Backdated and left unbatched, so that it looks like it was waiting for its batch.
    const pending = await tampered((tx) =>
      tx.query(`INSERT INTO audit_events SELECT 25, recorded - interval '1 day', action, outcome, patient_index, agent_index,
        ciphertext, wrapped_key, kek_id, content_commitment, leaf FROM audit_events WHERE seq = 5`),
    );
    expect(pending.findings).toContainEqual(
      expect.objectContaining({ check: 'pending-too-long', row: 'AuditEvent/25' }),
    );
  });

  it("a record's changed ciphertext is named with its type, id and version", async () => {
    const [row] = await vault.db.query<{ resource_id: string }>(
      'SELECT v.resource_id FROM record_versions v ORDER BY v.seq OFFSET 7 LIMIT 1',
    );
    const report = await tampered(
      (tx) =>
        tx.query(
          `UPDATE record_versions SET ciphertext = set_byte(ciphertext, 0, get_byte(ciphertext, 0) # 255) WHERE resource_id = $1`,
          [row!.resource_id],
        ),
      { keys: false },
    );
    expect(report.findings).toContainEqual(
      expect.objectContaining({
        check: 'leaf-mismatch',
        kind: 'records',
        row: `Observation/${row!.resource_id}/_history/1`,
        batch: '1',
      }),
    );
  });

  it('a whole dropped batch is named from the chain', async () => {
    const report = await tampered(async (tx) => {
      await tx.query(
        'DELETE FROM record_versions WHERE seq IN (SELECT seq FROM anchor_proofs WHERE kind = 0 AND batch_sequence = 1)',
      );
      await tx.query('DELETE FROM anchor_proofs WHERE kind = 0 AND batch_sequence = 1');
      await tx.query('DELETE FROM anchor_batches WHERE kind = 0 AND sequence = 1');
    });
    expect(report.findings).toContainEqual(
      expect.objectContaining({ check: 'batch-sequence-gap', kind: 'records', batch: '1' }),
    );
    expect(report.findings).toContainEqual(
      expect.objectContaining({ check: 'batch-missing-locally', kind: 'records', batch: '1' }),
    );
  });

  it('a database rolled back to an older copy is caught: the chain holds more batches', async () => {
    const report = await tampered(async (tx) => {
      for (const table of SNAPSHOT_TABLES) {
        await tx.query(`ALTER TABLE ${table} DISABLE TRIGGER USER`);
        await tx.query(`DELETE FROM ${table}`);
        await tx.query(`INSERT INTO ${table} SELECT * FROM snap_${table}`);
      }
    });
    for (const kind of ['records', 'audit'])
      expect(report.findings).toContainEqual(
        expect.objectContaining({ check: 'batch-missing-locally', kind, batch: '2' }),
      );
    expect(report.ok).toBe(false);
  });

  it('events pending longer than the anchoring delay are findings', async () => {
    const report = await verify(vault.db, { keys: false, now: new Date(Date.now() + 3_600_000) });
    expect(report.findings.filter((f) => f.check === 'pending-too-long').map((f) => f.row)).toEqual([
      'AuditEvent/23',
      'AuditEvent/24',
    ]);
  });
});
