/**
 * Vault throughput: secured (encrypt, commit, one insert, batch anchoring enqueued) versus plain
 * (the same JSON into a jsonb table, one insert per resource), with the same concurrency; and
 * verified reads versus plain selects. Run: `node bin/run-ts.js bench/vault.ts [n]`.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { memoryRootSource } from '../src/chain/RootSource.ts';
import { FileKeyring } from '../src/crypto/FileKeyring.ts';
import { migrations } from '../src/node/migrations.ts';
import { type Statement, statement } from '../src/store/db.ts';
import { openDatabase } from '../src/store/openDatabase.ts';
import { AnchorBatcher } from '../src/vault/AnchorBatcher.ts';
import { RECORD_ANCHORS } from '../src/vault/anchorKinds.ts';
import { Vault } from '../src/vault/Vault.ts';

export interface VaultBenchResult {
  securedWritesPerSec: number;
  plainInsertsPerSec: number;
  securedReadsPerSec: number;
  plainReadsPerSec: number;
  /** The plain paths again with prepared statements, as the secured path's own statements are. */
  plainPreparedInsertsPerSec: number;
  plainPreparedReadsPerSec: number;
  /**
   * CPU time of this process (all its threads) per operation, µs: the secured and plain paths'
   * own work, and with PGlite the database's too (it runs in this process); the server's is not in it.
   */
  cpuUs: { securedWrite: number; plainWrite: number; securedRead: number; plainRead: number };
}

const PLAIN_INSERT = 'INSERT INTO plain_resources (id, version_id, resource) VALUES ($1, 1, $2::jsonb)';
const PLAIN_SELECT = 'SELECT resource FROM plain_resources WHERE id = $1 ORDER BY version_id DESC LIMIT 1';
const PREPARED_INSERT = statement(PLAIN_INSERT);
const PREPARED_SELECT = statement(PLAIN_SELECT);

const CONCURRENCY = 8;
const DATABASE_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export async function benchVault(kind: 'pglite' | 'postgres', n: number): Promise<VaultBenchResult> {
  const schema = `bench_${randomBytes(4).toString('hex')}`;
  const db =
    kind === 'pglite'
      ? await openDatabase({ migrations, dataDir: 'memory://' })
      : await openDatabase({ migrations, databaseUrl: DATABASE_URL, schema });
  const dataDir = await mkdtemp(join(tmpdir(), 'medledger-bench-'));
  try {
    await db.exec(
      'CREATE TABLE plain_resources (id text, version_id integer, resource jsonb NOT NULL, PRIMARY KEY (id, version_id))',
    );
    const keyring = await FileKeyring.open(dataDir);
    const roots = memoryRootSource();
    const batcher = new AnchorBatcher(db, RECORD_ANCHORS, {
      onBatch: (b) => roots.set(0, b.sequence, b.root),
    });
    const vault = new Vault({ db, keyring, rootSource: roots, batcher });
    const resources = Array.from({ length: n }, (_, i) => sampleObservation(i));

    // Warm up both paths (connections, JIT, catalog caches) so neither pays for it in its timing.
    const warm = Math.min(200, n);
    const warmIds: string[] = [];
    await timed(warm, async (i) => {
      warmIds[i] = (await vault.create(resources[i]!)).resource.id;
      await db.query(PLAIN_INSERT, [`w${i}`, JSON.stringify(resources[i])]);
      await db.query(PREPARED_INSERT, [`v${i}`, JSON.stringify(resources[i])]);
    });
    await timed(warm, async (i) => {
      await vault.read('Observation', warmIds[i]!);
      await db.query(PLAIN_SELECT, [`w${i}`]);
      await db.query(PREPARED_SELECT, [`v${i}`]);
    });

    // Interleave the paths in rounds, alternating which goes first, so a change of load on this
    // shared machine falls on both sides of each ratio rather than on one.
    const ids: string[] = [];
    const seconds = {
      securedWrite: 0,
      plainWrite: 0,
      securedRead: 0,
      plainRead: 0,
      preparedWrite: 0,
      preparedRead: 0,
    };
    const cpu = { securedWrite: 0, plainWrite: 0, securedRead: 0, plainRead: 0 };
    const measured = async (path: keyof typeof cpu, phase: () => Promise<void>) => {
      const start = process.cpuUsage();
      await phase();
      const used = process.cpuUsage(start);
      cpu[path] += used.user + used.system;
    };
    const rounds = 5;
    const per = Math.ceil(n / rounds);
    for (let round = 0; round < rounds; round++) {
      const from = round * per;
      const count = Math.min(per, n - from);
      if (count <= 0) break;
      const securedWrite = async () => {
        const t = await timed(count, async (i) => {
          ids[from + i] = (await vault.create(resources[from + i]!)).resource.id;
        });
        const flushStart = performance.now();
        await batcher.flush();
        seconds.securedWrite += t + (performance.now() - flushStart) / 1000;
      };
      const plainWriteWith = (sql: string | Statement, prefix: string) => async () => {
        const t = await timed(count, async (i) => {
          await db.query(sql, [
            `${prefix}${from + i}`,
            JSON.stringify({ ...resources[from + i], id: `${prefix}${from + i}` }),
          ]);
        });
        if (prefix === 'p') seconds.plainWrite += t;
        else seconds.preparedWrite += t;
      };
      const plainWrite = plainWriteWith(PLAIN_INSERT, 'p');
      const preparedWrite = plainWriteWith(PREPARED_INSERT, 'q');
      const securedRead = async () => {
        seconds.securedRead += await timed(count, async (i) => {
          await vault.read('Observation', ids[from + i]!);
        });
      };
      const plainReadWith = (sql: string | Statement, prefix: string) => async () => {
        const t = await timed(count, async (i) => {
          const rows = await db.query<{ resource: unknown }>(sql, [`${prefix}${from + i}`]);
          if (rows.length !== 1) throw new Error('plain read missed');
        });
        if (prefix === 'p') seconds.plainRead += t;
        else seconds.preparedRead += t;
      };
      const plainRead = plainReadWith(PLAIN_SELECT, 'p');
      const preparedRead = plainReadWith(PREPARED_SELECT, 'q');
      const [sw, pw, sr, pr] = [
        () => measured('securedWrite', securedWrite),
        () => measured('plainWrite', plainWrite),
        () => measured('securedRead', securedRead),
        () => measured('plainRead', plainRead),
      ];
      const order =
        round % 2 === 0
          ? [sw, pw, preparedWrite, sr, pr, preparedRead]
          : [preparedWrite, pw, sw, preparedRead, pr, sr];
      for (const phase of order) await phase();
    }
    await batcher.stop();
    return {
      securedWritesPerSec: Math.round(n / seconds.securedWrite),
      plainInsertsPerSec: Math.round(n / seconds.plainWrite),
      securedReadsPerSec: Math.round(n / seconds.securedRead),
      plainReadsPerSec: Math.round(n / seconds.plainRead),
      plainPreparedInsertsPerSec: Math.round(n / seconds.preparedWrite),
      plainPreparedReadsPerSec: Math.round(n / seconds.preparedRead),
      cpuUs: {
        securedWrite: cpu.securedWrite / n,
        plainWrite: cpu.plainWrite / n,
        securedRead: cpu.securedRead / n,
        plainRead: cpu.plainRead / n,
      },
    };
  } finally {
    if (kind === 'postgres') await db.exec(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => {});
    await db.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}

/** Runs `task(0..n-1)` with CONCURRENCY workers; returns elapsed seconds. */
async function timed(n: number, task: (i: number) => Promise<void>): Promise<number> {
  let next = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < n) await task(next++);
    }),
  );
  return (performance.now() - start) / 1000;
}

function sampleObservation(i: number) {
  return {
    resourceType: 'Observation',
    status: 'final',
    category: [
      {
        coding: [
          { system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs' },
        ],
      },
    ],
    code: {
      coding: [{ system: 'http://loinc.org', code: '8867-4', display: 'Heart rate' }],
      text: 'Heart rate',
    },
    subject: { reference: `Patient/p${i % 97}` },
    effectiveDateTime: new Date(Date.UTC(2024, 0, 1, 0, i % 60)).toISOString(),
    valueQuantity: {
      value: 60 + (i % 40),
      unit: 'beats/minute',
      system: 'http://unitsofmeasure.org',
      code: '/min',
    },
    note: [{ text: `Resting, seated, measurement ${i}` }],
  };
}

async function main(): Promise<void> {
  const n = Number(process.argv[2] ?? 2000);
  const table: Record<string, VaultBenchResult & { writeRatio: string; readRatio: string }> = {};
  for (const kind of ['pglite', 'postgres'] as const) {
    const r = await benchVault(kind, n);
    table[kind] = {
      ...r,
      writeRatio: (r.securedWritesPerSec / r.plainInsertsPerSec).toFixed(2),
      readRatio: (r.securedReadsPerSec / r.plainReadsPerSec).toFixed(2),
    };
  }
  console.log(`vault benchmark, n = ${n}, concurrency = ${CONCURRENCY}`);
  console.table(table);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
