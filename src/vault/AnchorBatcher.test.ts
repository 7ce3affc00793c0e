import { bytesToHex, type Hex } from 'viem';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { merkleRoot, verifyMerkleProof } from '../chain/merkle.ts';
import { testDatabases } from '../store/testing/databases.ts';
import { RECORD_ANCHORS } from './anchorKinds.ts';
import { buildAnchorBatch } from './buildAnchorBatch.ts';
import { openTestVault, type TestVault } from './testing/openTestVault.ts';

const observation = (n: number) => ({ resourceType: 'Observation', status: 'final', valueInteger: n });

async function batches(t: TestVault) {
  return t.db.query<{
    sequence: string;
    leaf_count: number;
    root: Uint8Array;
    first_seq: string;
    last_seq: string;
  }>(
    'SELECT sequence::text AS sequence, leaf_count, root, first_seq::text AS first_seq, last_seq::text AS last_seq FROM anchor_batches WHERE kind = 0 ORDER BY anchor_batches.sequence',
  );
}

describe.each(testDatabases)('anchor batching on $name', (database) => {
  let t: TestVault | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it('a full batch is built as soon as maxLeaves leaves are written, in contiguous sequences', async () => {
    t = await openTestVault(database, { batcher: { maxLeaves: 5, maxDelayMs: 600_000 } });
    for (let i = 0; i < 12; i++) await t.vault.create(observation(i));
    await vi.waitFor(async () => expect((await batches(t!)).length).toBe(2), { timeout: 5000 });
    const built = await batches(t);
    expect(built.map((b) => [b.sequence, b.leaf_count])).toEqual([
      ['0', 5],
      ['1', 5],
    ]);
    expect(BigInt(built[1]!.first_seq)).toBeGreaterThan(BigInt(built[0]!.last_seq));
    const [pending] = await t.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM record_versions v
       WHERE NOT EXISTS (SELECT 1 FROM anchor_proofs p WHERE p.kind = 0 AND p.seq = v.seq)`,
    );
    expect(pending?.n).toBe(2);
    const flushed = await t.batcher.flush();
    expect(flushed.map((b) => [b.sequence, b.leafCount])).toEqual([[2n, 2]]);
  });

  it('the time trigger batches a partial batch after maxDelayMs', async () => {
    t = await openTestVault(database, { batcher: { maxLeaves: 1000, maxDelayMs: 150 } });
    t.batcher.start();
    for (let i = 0; i < 3; i++) await t.vault.create(observation(i));
    await vi.waitFor(async () => expect((await batches(t!)).map((b) => b.leaf_count)).toEqual([3]), {
      timeout: 5000,
      interval: 50,
    });
  });

  it('a batch stores proofs that verify against its root and enqueues one anchor write', async () => {
    t = await openTestVault(database, { batcher: { maxLeaves: 1000, maxDelayMs: 600_000 } });
    for (let i = 0; i < 7; i++) await t.vault.create(observation(i));
    const [batch] = await t.batcher.flush();
    const rows = await t.db.query<{ leaf: Uint8Array; proof: Uint8Array; batch_index: number }>(
      `SELECT v.leaf, p.proof, p.batch_index FROM record_versions v
       JOIN anchor_proofs p ON p.kind = 0 AND p.seq = v.seq ORDER BY v.seq`,
    );
    const leaves = rows.map((r) => bytesToHex(r.leaf));
    expect(batch?.root).toBe(merkleRoot(leaves));
    for (const [i, row] of rows.entries()) {
      expect(row.batch_index).toBe(i);
      const proof = (Buffer.from(row.proof).toString('hex').match(/.{64}/g) ?? []).map(
        (h) => `0x${h}` as Hex,
      );
      expect(verifyMerkleProof(batch!.root, leaves[i]!, proof)).toBe(true);
    }
    const outbox = await t.db.query<{ dedupe_key: string; function_name: string; args: unknown }>(
      'SELECT dedupe_key, function_name, args FROM chain_outbox',
    );
    expect(outbox).toEqual([
      { dedupe_key: 'anchor:records:0', function_name: 'anchor', args: [0, '0', 7, batch!.root] },
    ]);
    const read = await t.vault.read(
      'Observation',
      (await t.db.query<{ resource_id: string }>('SELECT resource_id FROM record_versions LIMIT 1'))[0]!
        .resource_id,
    );
    expect(read.anchor).toMatchObject({ status: 'pending', batchSequence: 0n });
    t.roots.set(0, 0n, batch!.root);
    const again = await t.vault.vread('Observation', read.resource.id!, 1);
    expect(again.anchor).toMatchObject({ status: 'anchored', batchSequence: 0n, root: batch!.root });
  });

  it('concurrent batch builders never produce duplicate or missing sequences', async () => {
    t = await openTestVault(database, { batcher: { maxLeaves: 1000, maxDelayMs: 600_000 } });
    const vault = t.vault;
    await Promise.all(Array.from({ length: 40 }, (_, i) => vault.create(observation(i))));
    const db = t.db;
    const results = await Promise.all(
      Array.from({ length: 6 }, () => buildAnchorBatch(db, RECORD_ANCHORS, { maxLeaves: 7 })),
    );
    const built = results.filter((b) => b !== undefined);
    expect(built.length).toBe(6);
    const rows = await batches(t);
    expect(rows.map((b) => b.sequence)).toEqual(['0', '1', '2', '3', '4', '5']);
    const [counts] = await t.db.query<{ batched: number; distinct_pairs: number }>(
      `SELECT count(*)::int AS batched, count(DISTINCT (p.batch_sequence, p.batch_index))::int AS distinct_pairs
       FROM record_versions v JOIN anchor_proofs p ON p.kind = 0 AND p.seq = v.seq`,
    );
    expect(counts).toEqual({ batched: 40, distinct_pairs: 40 });
  });
});

// Only a server runs transactions concurrently (PGlite has one connection), so only there can a
// writer hold an uncommitted seq while the builder runs.
describe('anchor batching on postgres, concurrent writers', () => {
  const database = testDatabases.find((d) => d.name === 'postgres')!;
  let t: TestVault | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it('a batch waits for a writer that drew a smaller seq and has not committed, so batches stay contiguous in seq', async () => {
    t = await openTestVault(database, { batcher: { maxLeaves: 1000, maxDelayMs: 600_000 } });
    const { vault, db } = t;
    let commitSlow!: () => void;
    const slowHeld = new Promise<void>((resolve) => (commitSlow = resolve));
    let slowWrote!: () => void;
    const slowWritten = new Promise<void>((resolve) => (slowWrote = resolve));
    const slow = db.transaction(async (tx) => {
      await vault.createIn(tx, observation(1));
      slowWrote();
      await slowHeld;
    });
    await slowWritten;
    await vault.create(observation(2)); // draws the next seq and commits first
    let built = false;
    const building = buildAnchorBatch(db, RECORD_ANCHORS, { maxLeaves: 1000 }).then((b) => {
      built = true;
      return b;
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    try {
      expect(built).toBe(false);
    } finally {
      commitSlow();
      await slow;
    }
    const batch = await building;
    expect(batch?.leafCount).toBe(2);
    const rows = await db.query<{ seq: string; batch_index: number }>(
      `SELECT v.seq::text AS seq, p.batch_index FROM record_versions v
       LEFT JOIN anchor_proofs p ON p.kind = 0 AND p.seq = v.seq ORDER BY v.seq`,
    );
    expect(rows.map((r) => r.batch_index)).toEqual([0, 1]);
    const [range] = await batches(t);
    expect([range?.first_seq, range?.last_seq]).toEqual([rows[0]?.seq, rows[1]?.seq]);
  });
});
