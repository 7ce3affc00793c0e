/**
 * `npm run bench -- memory`: peak resident memory (VmHWM in /proc/PID/status, Linux) of
 * `medledger import` over the whole Synthea set, and of `medledger start` holding all of it
 * while it answers searches over every patient, against the same node started empty and idle
 * (the baseline, same run). The embedded anvil is a separate process, reported on its own.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AccessTokens } from '../../src/access/AccessTokens.ts';
import { bearer } from '../../src/access/testing/mintAccessToken.ts';
import { freePort } from '../../src/chain/embeddedAnvil.ts';
import { sharedDataDir } from '../../src/fhir/testing/sharedData.ts';
import type { BenchSection } from '../run.ts';

const PUBLIC_URL = 'http://medledger-bench.invalid';

/** Peak RSS so far of a live process, in MiB (undefined once it has exited). */
async function peakRssMiB(pid: number): Promise<number | undefined> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const kb = /^VmHWM:\s+(\d+) kB/m.exec(status)?.[1];
  return kb === undefined ? undefined : Number(kb) / 1024;
}

/** Samples a process's peak RSS every 100 ms until it exits; resolves with the last reading. */
function watchPeak(child: ChildProcess): { done: Promise<number> } {
  let peak = 0;
  const timer = setInterval(async () => {
    const now = await peakRssMiB(child.pid ?? 0);
    if (now !== undefined) peak = Math.max(peak, now);
  }, 100);
  const done = new Promise<number>((resolve) =>
    child.once('exit', () => {
      clearInterval(timer);
      resolve(peak);
    }),
  );
  return { done };
}

async function anvilPid(dataDir: string): Promise<number> {
  return (JSON.parse(await readFile(join(dataDir, 'chain', 'anvil.json'), 'utf8')) as { pid: number }).pid;
}

interface ServerPeaks {
  node: number;
  anvil: number;
}

/** Starts `medledger start`, waits until ready, runs `work`, reads the peaks, stops it. */
async function serverPeaks(dataDir: string, work: (url: string) => Promise<void>): Promise<ServerPeaks> {
  const port = await freePort();
  const child = spawn('node', ['bin/medledger.js', 'start', '--data-dir', dataDir, '--port', String(port)], {
    env: { ...process.env, MEDLEDGER_PUBLIC_URL: PUBLIC_URL },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 300_000;
  while (
    !(await fetch(`${url}/healthz`).then(
      (r) => r.ok,
      () => false,
    ))
  ) {
    if (child.exitCode !== null || Date.now() > deadline)
      throw new Error('medledger start did not become ready');
    await new Promise((r) => setTimeout(r, 200));
  }
  await work(url);
  const node = (await peakRssMiB(child.pid ?? 0)) ?? Number.NaN;
  const anvil = (await peakRssMiB(await anvilPid(dataDir))) ?? Number.NaN;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
  return { node, anvil };
}

export async function benchMemory() {
  const synthea = sharedDataDir('synthea');
  const patientFiles = (await readdir(synthea)).filter((f) => f.endsWith('.json') && !/Information/.test(f));
  const emptyDir = await mkdtemp(join(tmpdir(), 'medledger-mem-empty-'));
  const fullDir = await mkdtemp(join(tmpdir(), 'medledger-mem-full-'));
  try {
    const idle = async () => {
      await new Promise((r) => setTimeout(r, 3000));
    };
    // The first start creates the database (PGlite initdb, migrations) and deploys the contracts;
    // the baseline is the second, a start like the full node's (its data directory already exists).
    const firstStart = await serverPeaks(emptyDir, idle);
    const empty = await serverPeaks(emptyDir, idle);

    const importer = spawn('node', ['bin/medledger.js', 'import', synthea, '--data-dir', fullDir, '--json'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    importer.stdout?.on('data', (c: Buffer) => {
      out += c.toString();
    });
    const importPeak = await watchPeak(importer).done;
    const summary = JSON.parse(out) as { resources: number; failed: number };

    const tokens = await AccessTokens.load(fullDir, PUBLIC_URL);
    const admin = await bearer(tokens, { kind: 'system', scope: 'system/*.cruds', lifetimeSeconds: 3600 });
    const full = await serverPeaks(fullDir, async (url) => {
      // Touch all of it: every patient's compartment searched, every page of Observations read.
      const patients = (await (
        await fetch(`${url}/fhir/Patient?_count=1000`, { headers: { authorization: admin } })
      ).json()) as { entry?: Array<{ resource: { id: string } }> };
      for (const entry of patients.entry ?? []) {
        for (const type of ['Observation', 'Encounter', 'Condition', 'Claim']) {
          const r = await fetch(`${url}/fhir/${type}?patient=${entry.resource.id}&_count=1000`, {
            headers: { authorization: admin },
          });
          await r.arrayBuffer();
        }
      }
    });
    return {
      firstStart,
      empty,
      full,
      importPeak,
      resources: summary.resources,
      failed: summary.failed,
      files: patientFiles.length,
    };
  } finally {
    await rm(emptyDir, { recursive: true, force: true });
    await rm(fullDir, { recursive: true, force: true });
  }
}

export const memorySection: BenchSection = {
  name: 'memory',
  title: 'Memory: peak RSS',
  async run() {
    const r = await benchMemory();
    const f = (mib: number) => mib.toFixed(0);
    return [
      `Peak resident set (VmHWM) of each process. Baseline: \`medledger start\` on an empty data directory, idle, started for`,
      'the second time (the first start, which creates the database and deploys the contracts, is its own row; same run).',
      `Import: \`medledger import\` of the whole Synthea set (${r.resources.toLocaleString('en-US')} resources, ${r.files} patients, ${r.failed} failed) into`,
      'a new embedded PGlite directory (so it includes creating the database, like the first start), run without a node. Server: `medledger start`',
      "on that data directory, after searching every patient's Observations, Encounters, Conditions and Claims.",
      '',
      '| | medledger (MiB) | × empty node | embedded anvil (MiB) |',
      '|---|---:|---:|---:|',
      `| node, empty and idle (baseline) | ${f(r.empty.node)} | 1.00 | ${f(r.empty.anvil)} |`,
      `| node, first start on an empty directory | ${f(r.firstStart.node)} | ${(r.firstStart.node / r.empty.node).toFixed(2)} | ${f(r.firstStart.anvil)} |`,
      `| \`medledger import\` of the Synthea set | ${f(r.importPeak)} | ${(r.importPeak / r.empty.node).toFixed(2)} | |`,
      `| node holding the Synthea set, after searches | ${f(r.full.node)} | ${(r.full.node / r.empty.node).toFixed(2)} | ${f(r.full.anvil)} |`,
    ].join('\n');
  },
};
