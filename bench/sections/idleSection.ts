/**
 * `npm run bench -- idle`: CPU a node takes while nobody asks it anything, from /proc/PID/stat
 * (utime + stime of the `medledger start` process, and of its embedded anvil on its own), over
 * MEDLEDGER_IDLE_SECONDS (default 30) after it has been idle for 10 s: on an empty data directory,
 * then on the same directory after MEDLEDGER_IDLE_ANCHORS (default 2,000) anchor transactions
 * (records written one per batch), restarted. Node idle CPU should be flat: no loop reads anything
 * that grows with the database or the chain.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AccessTokens } from '../../src/access/AccessTokens.ts';
import { bearer } from '../../src/access/testing/mintAccessToken.ts';
import { freePort } from '../../src/chain/embeddedAnvil.ts';
import type { BenchSection } from '../run.ts';

const PUBLIC_URL = 'http://medledger-bench.invalid';
const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/** CPU seconds (user + system) a live process has used. */
async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

interface Idle {
  nodeMsPerSecond: number;
  anvilMsPerSecond: number;
}

/** Starts a node on `dataDir`, runs `work`, waits idle, measures, stops it. */
async function idleNode(dataDir: string, env: Record<string, string>, work: (url: string) => Promise<void>) {
  const port = await freePort();
  const child = spawn('node', ['bin/medledger.js', 'start', '--data-dir', dataDir, '--port', String(port)], {
    env: { ...process.env, MEDLEDGER_PUBLIC_URL: PUBLIC_URL, ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  try {
    const deadline = Date.now() + 300_000;
    while (
      !(await fetch(`${url}/healthz`).then(
        (r) => r.ok,
        () => false,
      ))
    ) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error('node did not start');
      await new Promise((r) => setTimeout(r, 200));
    }
    await work(url);
    await new Promise((r) => setTimeout(r, 10_000));
    const anvil = (
      JSON.parse(await readFile(join(dataDir, 'chain', 'anvil.json'), 'utf8')) as { pid: number }
    ).pid;
    const seconds = Number(process.env.MEDLEDGER_IDLE_SECONDS ?? 30);
    const [node0, anvil0] = [await cpuSeconds(child.pid ?? 0), await cpuSeconds(anvil)];
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const elapsed = (performance.now() - t0) / 1000;
    const [node1, anvil1] = [await cpuSeconds(child.pid ?? 0), await cpuSeconds(anvil)];
    return {
      nodeMsPerSecond: ((node1 - node0) * 1000) / elapsed,
      anvilMsPerSecond: ((anvil1 - anvil0) * 1000) / elapsed,
    } satisfies Idle;
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
}

/** `count` records, each its own anchor batch (and so its own chain transaction). */
async function writeAnchored(url: string, dataDir: string, count: number): Promise<void> {
  const tokens = await AccessTokens.load(dataDir, PUBLIC_URL);
  const authorization = await bearer(tokens, {
    kind: 'system',
    scope: 'system/*.cruds',
    lifetimeSeconds: 7200,
  });
  let next = 0;
  const client = async () => {
    while (next < count) {
      next++;
      const response = await fetch(`${url}/fhir/Observation`, {
        method: 'POST',
        headers: { authorization, 'content-type': 'application/fhir+json' },
        body: JSON.stringify({
          resourceType: 'Observation',
          status: 'final',
          code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] },
          valueQuantity: { value: next % 100, unit: '/min' },
        }),
      });
      await response.body?.cancel();
      if (response.status !== 201) throw new Error(`write answered ${response.status}`);
    }
  };
  await Promise.all(Array.from({ length: 4 }, client));
  // Until every batch is on chain.
  for (;;) {
    const health = (await (await fetch(`${url}/healthz`)).json()) as { pendingChainWrites: number };
    if (health.pendingChainWrites === 0) break;
    await new Promise((r) => setTimeout(r, 1000));
  }
}

export const idleSection: BenchSection = {
  name: 'idle',
  title: 'Idle CPU: node and embedded chain',
  async run() {
    const anchors = Number(process.env.MEDLEDGER_IDLE_ANCHORS ?? 2000);
    const seconds = Number(process.env.MEDLEDGER_IDLE_SECONDS ?? 30);
    const dataDir = await mkdtemp(join(tmpdir(), 'medledger-bench-idle-'));
    try {
      const empty = await idleNode(dataDir, {}, async () => {});
      // Batches of one leaf, cut every 50 ms: each record (and each audit event) is one anchor.
      const filled = { MEDLEDGER_BATCH_MAX_LEAVES: '1', MEDLEDGER_BATCH_MAX_DELAY_MS: '50' };
      await idleNode(dataDir, filled, (url) => writeAnchored(url, dataDir, Math.ceil(anchors / 2)));
      const n = anchors; // records + their audit events, each a batch of one leaf
      const after = await idleNode(dataDir, {}, async () => {});
      const f = (v: number) => v.toFixed(1);
      return [
        `CPU (user + system, /proc/PID/stat) of the \`medledger start\` process and of its embedded anvil, over ${seconds} s`,
        'after 10 s without requests; embedded anvil + PGlite, default settings. "After anchors": the same data',
        `directory after about ${n.toLocaleString('en-US')} anchor transactions (records written one per batch, each with`,
        'its audit event batch), the node restarted. Goal: node ≤ 5 ms/s, not growing with the data.',
        '',
        '| | node (ms CPU / s) | embedded anvil (ms CPU / s) |',
        '|---|---:|---:|',
        `| empty data directory | ${f(empty.nodeMsPerSecond)} | ${f(empty.anvilMsPerSecond)} |`,
        `| after ~${n.toLocaleString('en-US')} anchors | ${f(after.nodeMsPerSecond)} | ${f(after.anvilMsPerSecond)} |`,
        '',
        `Node after anchors / empty: **${(after.nodeMsPerSecond / Math.max(empty.nodeMsPerSecond, 0.1)).toFixed(2)}×**.`,
        "The anvil column is the chain's own cost (its state dump), not the node's.",
      ].join('\n');
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  },
};
