/**
 * Audit log and verifier benchmarks:
 * - audit events appended per second with anchoring on (sealed, group-committed, batched into
 *   Merkle trees with outbox entries), against plain INSERTs of the same JSON into a jsonb table;
 * - time to verify one inclusion proof;
 * - `medledger verify` speed in record versions per second over 100,000 versions (written through
 *   a bulk fast path of the vault's own sealing, batched and anchored on a real anvil).
 *   node bin/run-ts.js bench/audit.ts [pglite|postgres]
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Hex } from 'viem';
import { AUDIT_ANCHORS } from '../src/audit/auditAnchors.ts';
import { tableAuditSink } from '../src/audit/tableAuditSink.ts';
import { sampleAuditEvent } from '../src/audit/testing/openTestAudit.ts';
import { toAuditEventResource } from '../src/audit/toAuditEventResource.ts';
import { buildMerkleTree, merkleProofFromTree, verifyMerkleProof } from '../src/chain/merkle.ts';
import { FileKeyring } from '../src/crypto/FileKeyring.ts';
import { sealRecord } from '../src/crypto/sealRecord.ts';
import { type Db, statement } from '../src/store/db.ts';
import { testDatabases } from '../src/store/testing/databases.ts';
import { AnchorBatcher } from '../src/vault/AnchorBatcher.ts';
import { RECORD_ANCHORS } from '../src/vault/anchorKinds.ts';
import { buildAnchorBatch } from '../src/vault/buildAnchorBatch.ts';
import { startAnvilAnchors } from '../src/vault/testing/anvilAnchors.ts';
import { anchorPendingBatches } from '../src/verify/testing/anchorPendingBatches.ts';
import { verifyDatabase } from '../src/verify/verifyDatabase.ts';

export type BackEnd = 'pglite' | 'postgres';

async function open(kind: BackEnd): Promise<Db> {
  const database = testDatabases.find((d) => d.name === kind);
  if (!database) throw new Error(`no test database ${kind}`);
  return database.open();
}

export interface AuditAppendResult {
  events: number;
  sealedPerSec: number;
  plainPerSec: number;
  batches: number;
  /** CPU time of this process (all its threads; the server's is not in it) per event, µs. */
  sealedCpuUs: number;
  plainCpuUs: number;
  /**
   * Rows of the same sizes as the sealed ones (random bytes, no sealing, no anchoring) bulk-inserted
   * into a table shaped like audit_events, 1,000 a statement: what storage alone allows.
   */
  floorPerSec: number;
}

/** `events` appends from `concurrency` concurrent callers, each awaiting its own event, anchoring on. */
export async function benchAuditAppend(
  kind: BackEnd,
  events = 20_000,
  concurrency = 2_000,
): Promise<AuditAppendResult> {
  const db = await open(kind);
  const dir = await mkdtemp(join(tmpdir(), 'medledger-bench-audit-'));
  try {
    const keyring = await FileKeyring.open(dir);
    let batches = 0;
    const batcher = new AnchorBatcher(db, AUDIT_ANCHORS, {
      maxLeaves: 1000,
      maxDelayMs: 200,
      onBatch: () => batches++,
    });
    batcher.start();
    const sink = tableAuditSink(db, { keyring, batcher });
    const inputs = Array.from({ length: events }, (_, i) => sampleAuditEvent(`Patient/p-${i % 500}`));
    await sink.append(inputs[0]!); // creates the index key
    const sealedCpu = process.cpuUsage();
    const sealed = await timed(() => inParallel(inputs.length, concurrency, (i) => sink.append(inputs[i]!)));
    const sealedCpuUs = cpuMicros(sealedCpu) / events;
    await batcher.flush();
    await batcher.stop();
    const floorPerSec = await benchStorageFloor(db, events);

    await db.query('CREATE TABLE bench_plain_audit (seq bigserial PRIMARY KEY, event jsonb NOT NULL)');
    const json = inputs.map((e, i) => JSON.stringify(toAuditEventResource(String(i + 1), e)));
    const plainCpu = process.cpuUsage();
    const plain = await timed(() =>
      inParallel(json.length, concurrency, (i) =>
        db.query('INSERT INTO bench_plain_audit (event) VALUES ($1::jsonb)', [json[i]!]),
      ),
    );
    const plainCpuUs = cpuMicros(plainCpu) / events;
    return {
      events,
      sealedPerSec: events / sealed,
      plainPerSec: events / plain,
      batches,
      sealedCpuUs,
      plainCpuUs,
      floorPerSec,
    };
  } finally {
    await db.close();
    await rm(dir, { recursive: true, force: true });
  }
}

const cpuMicros = (since: NodeJS.CpuUsage) => {
  const used = process.cpuUsage(since);
  return used.user + used.system;
};

/**
 * Inserts `rows` rows with the byte sizes of the sealed events just appended (ciphertext, wrapped
 * key, commitment, leaf, blind indexes) but random content, into a copy of audit_events' table
 * and indexes: 1,000 rows a statement, the bytes as one parameter cut apart in SQL as the sink
 * does, two statements at a time. Returns rows per second.
 */
async function benchStorageFloor(db: Db, rows: number): Promise<number> {
  const [size] = await db.query<{ ct: number; wk: number; agents: number }>(
    `SELECT round(avg(length(ciphertext)))::int AS ct, round(avg(length(wrapped_key)))::int AS wk,
       round(avg(cardinality(agent_index)))::int AS agents FROM audit_events`,
  );
  const { ct, wk, agents } = size!;
  await db.exec('CREATE TABLE bench_floor_audit (LIKE audit_events INCLUDING ALL)');
  const row = 32 + 32 * agents + ct + wk + 32 + 32;
  const agentArray = Array.from(
    { length: agents },
    (_, a) => `substring($3::bytea FROM o + ${33 + 32 * a} FOR 32)`,
  );
  const insert =
    statement(`INSERT INTO bench_floor_audit (seq, recorded, action, outcome, patient_index, agent_index,
      ciphertext, wrapped_key, kek_id, content_commitment, leaf)
    SELECT s, now(), 'R', 0, substring($3::bytea FROM o + 1 FOR 32), ARRAY[${agentArray.join(', ')}]::bytea[],
      substring($3::bytea FROM o + ${33 + 32 * agents} FOR ${ct}),
      substring($3::bytea FROM o + ${33 + 32 * agents + ct} FOR ${wk}), 'k',
      substring($3::bytea FROM o + ${33 + 32 * agents + ct + wk} FOR 32),
      substring($3::bytea FROM o + ${65 + 32 * agents + ct + wk} FOR 32)
    FROM unnest($1::bigint[], $2::int[]) AS t(s, o)`);
  const group = 1000;
  const bytes = randomBytes(group * row);
  const offsets = Array.from({ length: group }, (_, i) => i * row);
  let next = 0;
  const seconds = await timed(() =>
    inParallel(Math.ceil(rows / group), 2, async () => {
      const seqs = Array.from({ length: group }, () => String(++next));
      await db.transaction((tx) => tx.query(insert, [seqs, offsets, bytes]));
    }),
  );
  return (Math.ceil(rows / group) * group) / seconds;
}

/** Mean microseconds to verify one inclusion proof in a batch of `leaves` leaves. */
export function benchProofVerification(leaves = 1000, rounds = 20_000): number {
  const values = Array.from({ length: leaves }, (_, i) => `0x${i.toString(16).padStart(64, '0')}` as Hex);
  const tree = buildMerkleTree(values);
  const proofs = values.map((_, i) => merkleProofFromTree(tree, i));
  const start = performance.now();
  for (let r = 0; r < rounds; r++) {
    const i = r % leaves;
    if (!verifyMerkleProof(tree.root, values[i]!, proofs[i]!)) throw new Error('proof failed');
  }
  return ((performance.now() - start) * 1000) / rounds;
}

export interface VerifySpeedResult {
  versions: number;
  withoutKeysPerSec: number;
  withKeysPerSec: number;
  ok: boolean;
}

/** Writes `versions` record versions (bulk fast path), batches and anchors them, then times `verify`. */
export async function benchVerifySpeed(kind: BackEnd, versions = 100_000): Promise<VerifySpeedResult> {
  const db = await open(kind);
  const dir = await mkdtemp(join(tmpdir(), 'medledger-bench-verify-'));
  const chain = await startAnvilAnchors();
  try {
    const keyring = await FileKeyring.open(dir);
    const addresses = await chain.deploy();
    await bulkWriteVersions(db, keyring, versions);
    while (await buildAnchorBatch(db, RECORD_ANCHORS, { maxLeaves: 10_000 }));
    await anchorPendingBatches(db, chain, addresses);
    const run = async (withKeys: boolean) => {
      let ok = false;
      const seconds = await timed(async () => {
        const report = await verifyDatabase({
          db,
          chain: {
            publicClient: chain.publicClient,
            anchors: addresses.anchors,
            member: chain.walletClient.account.address,
            fromBlock: BigInt(addresses.deployBlock),
          },
          keyring: withKeys ? keyring : undefined,
          maxPendingAgeMs: 600_000,
        });
        ok = report.ok && report.counts.records.rows === versions;
      });
      return { perSec: versions / seconds, ok };
    };
    const withoutKeys = await run(false);
    const withKeys = await run(true);
    return {
      versions,
      withoutKeysPerSec: withoutKeys.perSec,
      withKeysPerSec: withKeys.perSec,
      ok: withoutKeys.ok && withKeys.ok,
    };
  } finally {
    await chain.stop();
    await db.close();
    await rm(dir, { recursive: true, force: true });
  }
}

/** The vault's sealing, inserted 2,000 rows per statement (the API path writes one at a time). */
async function bulkWriteVersions(db: Db, keyring: FileKeyring, count: number): Promise<void> {
  const kek = keyring.current();
  const lastUpdated = new Date().toISOString();
  for (let start = 0; start < count; start += 2000) {
    const cols: string[][] = [[], [], [], [], []];
    for (let i = start; i < Math.min(count, start + 2000); i++) {
      const id = randomUUID();
      const resource = {
        resourceType: 'Observation',
        id,
        meta: { versionId: '1', lastUpdated },
        status: 'final',
        code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] },
        valueQuantity: { value: 60 + (i % 40), unit: 'beats/minute' },
      };
      const sealed = await sealRecord(
        { resourceType: 'Observation', id, versionId: 1, deleted: false },
        resource,
        kek,
      );
      cols[0]!.push(id);
      cols[1]!.push(Buffer.concat([sealed.iv, sealed.ciphertext]).toString('hex'));
      cols[2]!.push(Buffer.from(sealed.wrappedKey).toString('hex'));
      cols[3]!.push(sealed.contentCommitment.toString('hex'));
      cols[4]!.push(sealed.leaf.toString('hex'));
    }
    await db.query(
      `INSERT INTO record_versions (resource_type, resource_id, version_id, deleted, last_updated, ciphertext, wrapped_key,
         kek_id, content_commitment, leaf)
       SELECT 'Observation', u.id, 1, false, $6::timestamptz, decode(u.ct, 'hex'), decode(u.wk, 'hex'), $7,
         decode(u.cc, 'hex'), decode(u.leaf, 'hex')
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) AS u(id, ct, wk, cc, leaf)`,
      [...cols, lastUpdated, kek.id],
    );
  }
}

async function inParallel(
  count: number,
  concurrency: number,
  task: (i: number) => Promise<unknown>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) await task(next++);
    }),
  );
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await fn();
  return (performance.now() - start) / 1000;
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

/** The markdown tables `npm run bench` can include. */
export async function auditBenchTable(kinds: readonly BackEnd[] = ['pglite', 'postgres']): Promise<string> {
  const appends = [
    "| back end | sealed audit appends/s (anchoring on) | plain jsonb INSERTs/s | ratio | goal ≥ 20,000/s | this process's CPU per sealed event | per plain INSERT | storage floor: same-size rows, no sealing, rows/s |",
    '|---|---:|---:|---:|:-:|---:|---:|---:|',
  ];
  const verify = [
    '| back end | verify versions/s (no keys) | verify versions/s (keys) | goal ≥ 10,000/s |',
    '|---|---:|---:|:-:|',
  ];
  for (const kind of kinds) {
    const a = await benchAuditAppend(kind);
    const v = await benchVerifySpeed(kind);
    appends.push(
      `| ${kind} | ${fmt(a.sealedPerSec)} | ${fmt(a.plainPerSec)} | ${(a.sealedPerSec / a.plainPerSec).toFixed(2)}× | ${a.sealedPerSec >= 20_000 ? '✓' : '✗'} | ${fmt(a.sealedCpuUs)} µs | ${fmt(a.plainCpuUs)} µs | ${fmt(a.floorPerSec)} |`,
    );
    verify.push(
      `| ${kind} | ${fmt(v.withoutKeysPerSec)} | ${fmt(v.withKeysPerSec)} | ${v.withoutKeysPerSec >= 10_000 ? '✓' : '✗'}${v.ok ? '' : ' (verify found problems!)'} |`,
    );
  }
  const proofUs = benchProofVerification();
  return [
    ...appends,
    '',
    ...verify,
    '',
    `One inclusion proof (1,000-leaf batch, 10 siblings) verifies in ${proofUs.toFixed(1)} µs.`,
    '',
  ].join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const wanted = process.argv.slice(2).filter((a): a is BackEnd => a === 'pglite' || a === 'postgres');
  process.stdout.write(await auditBenchTable(wanted.length > 0 ? wanted : ['pglite', 'postgres']));
}
