/**
 * Property: after a batch is anchored on a real chain, any single change to a stored byte of a
 * record version (or to its batch's local root, or swapping two rows' crypto columns) makes the
 * read fail with ERR_INTEGRITY — decryption failures included: the vault reports every failed check
 * on stored data as ERR_INTEGRITY — and raises an integrity alert. Altered data is never returned.
 */
import fc from 'fast-check';
import { type Address, bytesToHex, hexToBytes } from 'viem';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildMerkleTree, merkleProofFromTree } from '../chain/merkle.ts';
import type { SqlParam } from '../store/db.ts';
import { testDatabases } from '../store/testing/databases.ts';
import { contractRootSource } from './contractRootSource.ts';
import { type AnvilAnchors, startAnvilAnchors } from './testing/anvilAnchors.ts';
import { openTestVault, type TestVault } from './testing/openTestVault.ts';
import type { WriteResult } from './types.ts';

/**
 * Every stored byte column of a version (`ciphertext` holds `iv ‖ ciphertext ‖ tag`): in its
 * `record_versions` row, and its proof in its `anchor_proofs` row.
 */
const BYTE_COLUMNS = ['ciphertext', 'wrapped_key', 'leaf', 'proof', 'content_commitment'] as const;
const VERSION_SWAPPED = ['ciphertext', 'wrapped_key', 'leaf', 'content_commitment', 'kek_id'] as const;
const PROOF_SWAPPED = ['proof', 'batch_index'] as const;
type Column = (typeof VERSION_SWAPPED)[number] | (typeof PROOF_SWAPPED)[number];
/** The table a column is in, and the condition that picks the version's row (its seq is `$1`). */
const rowOf = (column: Column) =>
  (PROOF_SWAPPED as readonly string[]).includes(column)
    ? { table: 'anchor_proofs', where: 'kind = 0 AND seq = $1::bigint' }
    : { table: 'record_versions', where: 'seq = $1::bigint' };
const RESOURCE_COUNT = 6;

type Mutation =
  | { kind: 'byte'; column: (typeof BYTE_COLUMNS)[number]; at: number; mask: number }
  | { kind: 'version'; delta: number }
  | { kind: 'batchRoot'; at: number; mask: number }
  | { kind: 'swap'; other: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({
    kind: fc.constant('byte' as const),
    column: fc.constantFrom(...BYTE_COLUMNS),
    at: fc.nat(10_000),
    mask: fc.integer({ min: 1, max: 255 }),
  }),
  fc.record({ kind: fc.constant('version' as const), delta: fc.integer({ min: 1, max: 1000 }) }),
  fc.record({
    kind: fc.constant('batchRoot' as const),
    at: fc.nat(31),
    mask: fc.integer({ min: 1, max: 255 }),
  }),
  fc.record({ kind: fc.constant('swap' as const), other: fc.integer({ min: 1, max: RESOURCE_COUNT - 1 }) }),
);

const resource = fc.record({
  resourceType: fc.constantFrom('Patient', 'Observation', 'Condition'),
  text: fc.string({ maxLength: 40 }),
  valueQuantity: fc.record({ value: fc.double({ noNaN: true, noDefaultInfinity: true }), unit: fc.string() }),
  code: fc.array(fc.record({ system: fc.webUrl(), code: fc.string({ minLength: 1, maxLength: 8 }) }), {
    maxLength: 3,
  }),
});

let chain: AnvilAnchors;
beforeAll(async () => {
  chain = await startAnvilAnchors();
});
afterAll(async () => {
  await chain?.stop();
});

describe.each(testDatabases)('tampering on $name', (database) => {
  let t: TestVault;
  let written: WriteResult[];

  beforeAll(async () => {
    const addresses = await chain.deploy();
    const member: Address = chain.walletClient.account.address;
    const rootSource = contractRootSource({
      publicClient: chain.publicClient,
      anchors: addresses.anchors,
      member,
    });
    t = await openTestVault(database, { rootSource, batcher: { maxLeaves: 1000, maxDelayMs: 600_000 } });
    // An insider with the database's owner rights can switch off the proofs' append-only trigger.
    await t.db.exec('ALTER TABLE anchor_proofs DISABLE TRIGGER USER');
    written = [];
    for (const r of fc.sample(resource, { numRuns: RESOURCE_COUNT, seed: 42 }))
      written.push(await t.vault.create(r));
    const [batch] = await t.batcher.flush();
    await chain.anchor(addresses, {
      kind: 0,
      sequence: batch!.sequence,
      leafCount: batch!.leafCount,
      root: batch!.root,
    });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('untouched records read back anchored on chain', async () => {
    for (const w of written) {
      const read = await t.vault.read(w.resource.resourceType, w.resource.id);
      expect(read.resource).toEqual(w.resource);
      expect(read.anchor.status).toBe('anchored');
    }
  });

  it('a local batch rebuilt with consistent proofs is caught by the root anchored on chain', async () => {
    await rebuildLocalBatchWithExtraLeaf(t);
    const target = written[0]!;
    await expect(t.vault.read(target.resource.resourceType, target.resource.id)).rejects.toMatchObject({
      code: 'ERR_INTEGRITY',
    });
    const [alert] = await t.db.query<{ detail: string }>(
      'SELECT detail FROM integrity_alerts ORDER BY id DESC LIMIT 1',
    );
    expect(alert?.detail).toBe('anchored-root');
    // Put the true tree back for the next test.
    const leaves = (
      await t.db.query<{ leaf: Uint8Array }>('SELECT leaf FROM record_versions ORDER BY seq')
    ).map((r) => bytesToHex(r.leaf));
    const tree = buildMerkleTree(leaves);
    const seqs = await t.db.query<{ seq: string }>(
      'SELECT seq::text AS seq FROM record_versions ORDER BY record_versions.seq',
    );
    for (const [i, row] of seqs.entries()) {
      const proof = Buffer.concat(merkleProofFromTree(tree, i).map((node) => hexToBytes(node)));
      await t.db.query('UPDATE anchor_proofs SET proof = $2 WHERE kind = 0 AND seq = $1::bigint', [
        row.seq,
        proof,
      ]);
    }
    await t.db.query('UPDATE anchor_batches SET root = $1, leaf_count = $2 WHERE kind = 0', [
      hexToBytes(tree.root),
      leaves.length,
    ]);
    expect((await t.vault.read(target.resource.resourceType, target.resource.id)).anchor.status).toBe(
      'anchored',
    );
  });

  it('any single change to stored bytes is an integrity error, never altered data', async () => {
    const rows = await t.db.query<{ seq: string }>(
      'SELECT seq::text AS seq FROM record_versions ORDER BY record_versions.seq',
    );
    await fc.assert(
      fc.asyncProperty(fc.nat(RESOURCE_COUNT - 1), mutation, async (index, change) => {
        const target = written[index]!;
        const seq = rows[index]!.seq;
        const restore = await tamper(t, seq, change, rows);
        try {
          const [before] = await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM integrity_alerts');
          const outcome = await t.vault.read(target.resource.resourceType, target.resource.id).then(
            (read) => ({ read }),
            (error: unknown) => ({ error }),
          );
          expect(outcome).toEqual({ error: expect.objectContaining({ code: 'ERR_INTEGRITY' }) });
          const [after] = await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM integrity_alerts');
          expect(after!.n).toBe(before!.n + 1);
        } finally {
          await restore();
        }
        expect((await t.vault.read(target.resource.resourceType, target.resource.id)).resource).toEqual(
          target.resource,
        );
      }),
      { numRuns: 40, seed: 7 },
    );
  });
});

async function rebuildLocalBatchWithExtraLeaf(t: TestVault): Promise<void> {
  const rows = await t.db.query<{ seq: string; leaf: Uint8Array }>(
    'SELECT seq::text AS seq, leaf FROM record_versions ORDER BY record_versions.seq',
  );
  const leaves = [...rows.map((r) => bytesToHex(r.leaf)), bytesToHex(new Uint8Array(32).fill(9))];
  const tree = buildMerkleTree(leaves);
  for (const [i, row] of rows.entries()) {
    const proof = Buffer.concat(merkleProofFromTree(tree, i).map((node) => hexToBytes(node)));
    await t.db.query('UPDATE anchor_proofs SET proof = $2 WHERE kind = 0 AND seq = $1::bigint', [
      row.seq,
      proof,
    ]);
  }
  await t.db.query('UPDATE anchor_batches SET root = $1, leaf_count = $2 WHERE kind = 0', [
    hexToBytes(tree.root),
    leaves.length,
  ]);
}

/** Applies one change with plain SQL (as a database administrator could); returns its undo. */
async function tamper(
  t: TestVault,
  seq: string,
  change: Mutation,
  rows: { seq: string }[],
): Promise<() => Promise<void>> {
  const snapshot = async (s: string) => {
    const [version] = await t.db.query<Record<string, SqlParam>>(
      `SELECT version_id, ${VERSION_SWAPPED.join(', ')} FROM record_versions WHERE seq = $1::bigint`,
      [s],
    );
    const [proof] = await t.db.query<Record<string, SqlParam>>(
      `SELECT ${PROOF_SWAPPED.join(', ')} FROM anchor_proofs WHERE kind = 0 AND seq = $1::bigint`,
      [s],
    );
    return { ...version!, ...proof! };
  };
  const put = async (s: string, row: Record<string, SqlParam>) => {
    const columns = ['version_id', ...VERSION_SWAPPED];
    await t.db.query(
      `UPDATE record_versions SET ${columns.map((c, i) => `${c} = $${i + 2}`).join(', ')} WHERE seq = $1::bigint`,
      [s, ...columns.map((c) => row[c] ?? null)],
    );
    await t.db.query(
      `UPDATE anchor_proofs SET ${PROOF_SWAPPED.map((c, i) => `${c} = $${i + 2}`).join(', ')} WHERE kind = 0 AND seq = $1::bigint`,
      [s, ...PROOF_SWAPPED.map((c) => row[c] ?? null)],
    );
  };
  const own = await snapshot(seq);
  switch (change.kind) {
    case 'byte': {
      const c = change.column;
      const { table, where } = rowOf(c);
      await t.db.query(
        `UPDATE ${table} SET ${c} = set_byte(${c}, $2 % length(${c}), get_byte(${c}, $2 % length(${c})) # $3)
         WHERE ${where}`,
        [seq, change.at, change.mask],
      );
      return () => put(seq, own);
    }
    case 'version':
      await t.db.query('UPDATE record_versions SET version_id = version_id + $2 WHERE seq = $1::bigint', [
        seq,
        change.delta,
      ]);
      return () => put(seq, own);
    case 'batchRoot': {
      const [batch] = await t.db.query<{ root: Uint8Array }>(
        'SELECT root FROM anchor_batches WHERE kind = 0',
      );
      await t.db.query(
        'UPDATE anchor_batches SET root = set_byte(root, $1, get_byte(root, $1) # $2) WHERE kind = 0',
        [change.at, change.mask],
      );
      return async () => {
        await t.db.query('UPDATE anchor_batches SET root = $1 WHERE kind = 0', [batch!.root]);
      };
    }
    case 'swap': {
      const otherSeq = rows[(rows.findIndex((r) => r.seq === seq) + change.other) % rows.length]!.seq;
      const other = await snapshot(otherSeq);
      await put(seq, { ...other, version_id: own.version_id ?? null });
      await put(otherSeq, { ...own, version_id: other.version_id ?? null });
      return async () => {
        await put(seq, own);
        await put(otherSeq, other);
      };
    }
  }
}
