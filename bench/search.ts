/**
 * Search and read-by-id cost with the Synthea set loaded (issue 22), at 1×, 10× and 100× the
 * data: the set itself, then other patients' charts (synthetic transaction Bundles through the
 * same `importFiles` as `medledger import`) until the database holds 10× and 100× its resources.
 * At each size, over loopback HTTP at concurrency 1, from a client in a process of its own: the
 * three searches of the issue, a search that matches nothing, a page of 20 (what each result
 * adds), a patient's own `_summary=count`, and a read by id with the CPU it costs the node
 * process (with PGlite the database runs in it) and the embedded anvil, from /proc.
 * Run: `node bin/run-ts.js bench/search.ts [scales, e.g. 1,10]`.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { importFiles } from '../src/ehr/importFiles.ts';
import { sharedDataDir } from '../src/fhir/testing/sharedData.ts';
import { startTestNode, type TestNode } from '../src/fhir/testing/startTestNode.ts';
import { measureLatency } from './latencyClient.ts';

export interface SearchLevel {
  scale: number;
  resources: number;
  indexRows: number;
  /** p50 ms of each query, by name. */
  p50: Record<QueryName, number>;
  /** Entries each query returned. */
  entries: Record<QueryName, number>;
  /** CPU (node process + embedded anvil) per read by id, ms. */
  readCpuMs: number;
  readNodeCpuMs: number;
  readChainCpuMs: number;
}

export type QueryName = 'observation' | 'name' | 'encounters' | 'none' | 'page20' | 'count' | 'read';

const SAMPLES = Number(process.env.MEDLEDGER_SEARCH_SAMPLES ?? 200);
const READS_FOR_CPU = 1000;

export async function benchSearch(scales: readonly number[] = [1, 10, 100]): Promise<SearchLevel[]> {
  const t = await startTestNode();
  const work = await mkdtemp(join(tmpdir(), 'medledger-bench-search-'));
  try {
    const imported = await importFiles(t.node, [sharedDataDir('synthea')]);
    if (imported.failed > 0) throw new Error(`Synthea import failed for ${imported.failed} resources`);
    const system = await t.bearer({ kind: 'system', scope: 'system/*.rs', lifetimeSeconds: 7200 });
    const probe = await chooseProbe(t, system);
    const asPatient = await t.bearer({
      kind: 'patient',
      scope: 'patient/*.rs',
      patient: probe.patient,
      lifetimeSeconds: 7200,
    });
    const base = await t.countRows('record_versions');
    const levels: SearchLevel[] = [];
    let batch = 0;
    for (const scale of scales) {
      const missing = base * scale - (await t.countRows('record_versions'));
      if (missing > 0) {
        const dir = join(work, `grow-${scale}`);
        batch = await writeOtherCharts(dir, missing, batch, probe.code);
        const grown = await importFiles(t.node, [dir], { operator: 'bench' });
        if (grown.failed > 0) throw new Error(`growth import failed for ${grown.failed} resources`);
      }
      await drain(t);
      process.stderr.write(`bench: search ${scale}× loaded\n`);
      levels.push(await measure(t, scale, probe, system, asPatient));
    }
    return levels;
  } finally {
    await t.stop();
    await rm(work, { recursive: true, force: true });
  }
}

interface Probe {
  patient: string;
  family: string;
  /** `system|code` of the patient's most frequent Observation code. */
  code: string;
  observation: string;
}

/** The Synthea patient with the most Observations, and their most frequent code. */
async function chooseProbe(t: TestNode, authorization: string): Promise<Probe> {
  const get = async (path: string) => {
    const r = await fetch(`${t.fhirUrl}/${path}`, { headers: { authorization } });
    if (r.status !== 200) throw new Error(`${path}: ${r.status}`);
    return (await r.json()) as { entry?: { resource: Record<string, unknown> }[] };
  };
  const patients = (await get('Patient?_count=100')).entry ?? [];
  let best: Probe | undefined;
  let most = -1;
  for (const { resource } of patients) {
    const patient = resource as { id: string; name?: { family?: string }[] };
    const observations = (await get(`Observation?patient=${patient.id}&_count=1000`)).entry ?? [];
    if (observations.length <= most) continue;
    const codes = new Map<string, number>();
    for (const { resource: o } of observations) {
      const c = (o as { code?: { coding?: { system?: string; code?: string }[] } }).code?.coding?.[0];
      if (c?.code) codes.set(`${c.system}|${c.code}`, (codes.get(`${c.system}|${c.code}`) ?? 0) + 1);
    }
    const code = [...codes.entries()].sort((a, b) => b[1] - a[1])[0]?.[0];
    const family = patient.name?.[0]?.family;
    const first = observations[0]?.resource as { id?: string } | undefined;
    if (!code || !family || !first?.id) continue;
    most = observations.length;
    best = { patient: patient.id, family, code, observation: first.id };
  }
  if (!best) throw new Error('no Synthea patient with Observations');
  return best;
}

const FAMILIES = ['Okafor', 'Lindqvist', 'Moreau', 'Tanaka', 'Novak', 'Haddad', 'Silva', 'Kowalski'];
const LOINC = ['8480-6', '8462-4', '8867-4', '29463-7', '8302-2', '39156-5'];
/** Per other patient: 1 Patient, 20 Observations, 5 Encounters. */
const PER_CHART = 26;
const CHARTS_PER_FILE = 20;

/**
 * Transaction Bundles of other patients' charts (about `count` resources) in `dir`: names, codes
 * and the probe's own code shared with the probe patient, so a search by code or name has
 * more and more rows of other patients to pass over as the data grows.
 */
async function writeOtherCharts(
  dir: string,
  count: number,
  from: number,
  probeCode: string,
): Promise<number> {
  const { mkdir } = await import('node:fs/promises');
  await mkdir(dir, { recursive: true });
  const charts = Math.ceil(count / PER_CHART);
  let file = from;
  for (let c0 = 0; c0 < charts; c0 += CHARTS_PER_FILE, file++) {
    const entry: unknown[] = [];
    for (let c = c0; c < Math.min(charts, c0 + CHARTS_PER_FILE); c++) {
      const n = file * CHARTS_PER_FILE + c;
      const patient = `urn:uuid:${uuid(n, 0)}`;
      entry.push({
        fullUrl: patient,
        resource: {
          resourceType: 'Patient',
          name: [{ family: FAMILIES[n % FAMILIES.length], given: [`Other${n}`] }],
          gender: n % 2 ? 'female' : 'male',
          birthDate: `19${50 + (n % 50)}-0${1 + (n % 9)}-1${n % 10}`,
        },
        request: { method: 'POST', url: 'Patient' },
      });
      for (let i = 0; i < 20; i++) {
        const [system, code] =
          i % 4 === 0
            ? (probeCode.split('|') as [string, string])
            : ['http://loinc.org', LOINC[i % LOINC.length]];
        entry.push({
          fullUrl: `urn:uuid:${uuid(n, i + 1)}`,
          resource: {
            resourceType: 'Observation',
            status: 'final',
            code: { coding: [{ system, code }] },
            subject: { reference: patient },
            effectiveDateTime: new Date(Date.UTC(2015, 0, 1) + (n * 20 + i) * 3_600_000).toISOString(),
            valueQuantity: {
              value: 60 + ((n + i) % 80),
              unit: 'mmHg',
              system: 'http://unitsofmeasure.org',
              code: 'mm[Hg]',
            },
          },
          request: { method: 'POST', url: 'Observation' },
        });
      }
      for (let i = 0; i < 5; i++) {
        entry.push({
          fullUrl: `urn:uuid:${uuid(n, 100 + i)}`,
          resource: {
            resourceType: 'Encounter',
            status: 'finished',
            class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB' },
            subject: { reference: patient },
            period: { start: new Date(Date.UTC(2016, 0, 1) + (n * 5 + i) * 86_400_000).toISOString() },
          },
          request: { method: 'POST', url: 'Encounter' },
        });
      }
    }
    await writeFile(
      join(dir, `other-${String(file).padStart(6, '0')}.json`),
      JSON.stringify({ resourceType: 'Bundle', type: 'transaction', entry }),
    );
  }
  return file;
}

const uuid = (n: number, i: number) =>
  `00000000-0000-4000-8${String(i).padStart(3, '0')}-${String(n).padStart(12, '0')}`;

/** Every pending anchor batch built and confirmed: measured in steady state. */
async function drain(t: TestNode): Promise<void> {
  await t.node.recordBatcher.flush();
  await t.node.auditBatcher.flush();
  const deadline = Date.now() + 600_000;
  while ((await t.countRows("chain_outbox WHERE status IN ('pending', 'signed')")) > 0) {
    if (Date.now() > deadline) throw new Error('anchoring did not drain');
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function measure(
  t: TestNode,
  scale: number,
  probe: Probe,
  system: string,
  asPatient: string,
): Promise<SearchLevel> {
  const queries: Record<QueryName, { path: string; authorization: string }> = {
    observation: { path: `Observation?patient=${probe.patient}&code=${probe.code}`, authorization: system },
    name: { path: `Patient?name=${encodeURIComponent(probe.family)}`, authorization: system },
    encounters: { path: `Encounter?patient=${probe.patient}&_sort=-date&_count=20`, authorization: system },
    none: {
      path: `Observation?patient=${probe.patient}&code=http://loinc.org|0000-0`,
      authorization: system,
    },
    page20: { path: `Observation?patient=${probe.patient}&_count=20`, authorization: system },
    count: { path: 'Observation?_summary=count', authorization: asPatient },
    read: { path: `Observation/${probe.observation}`, authorization: system },
  };
  const p50 = {} as Record<QueryName, number>;
  const entries = {} as Record<QueryName, number>;
  for (const [name, { path, authorization }] of Object.entries(queries) as [
    QueryName,
    { path: string; authorization: string },
  ][]) {
    const r = await fetch(`${t.fhirUrl}/${path}`, { headers: { authorization } });
    const body = (await r.json()) as { entry?: unknown[]; total?: number };
    if (r.status !== 200) throw new Error(`${path}: ${r.status}`);
    entries[name] = name === 'count' ? (body.total ?? -1) : name === 'read' ? 1 : (body.entry?.length ?? 0);
    p50[name] = (
      await measureLatency({
        url: `${t.fhirUrl}/${path}`,
        headers: { authorization },
        n: SAMPLES,
        warmup: 20,
      })
    ).p50;
  }
  const cpu = await readCpu(t, queries.read);
  return {
    scale,
    resources: await t.countRows('record_versions'),
    indexRows: await t.countRows('fhir_search_index'),
    p50,
    entries,
    ...cpu,
  };
}

/**
 * CPU per read by id: the node process's (user + system, all threads; PGlite runs in it) and the
 * embedded anvil's, from /proc/PID/stat, over READS_FOR_CPU reads by a client in its own process
 * (whose CPU is not counted). Background work in that time (indexer polls, anchoring of the
 * reads' audit events) is counted: it is what the reads cost.
 */
async function readCpu(t: TestNode, read: { path: string; authorization: string }) {
  const anvil = JSON.parse(await readFile(join(t.node.config.dataDir, 'chain', 'anvil.json'), 'utf8')) as {
    pid: number;
  };
  const node0 = await cpuMs(process.pid);
  const chain0 = await cpuMs(anvil.pid);
  await measureLatency({
    url: `${t.fhirUrl}/${read.path}`,
    headers: { authorization: read.authorization },
    n: READS_FOR_CPU,
    warmup: 0,
  });
  const readNodeCpuMs = ((await cpuMs(process.pid)) - node0) / READS_FOR_CPU;
  const readChainCpuMs = ((await cpuMs(anvil.pid)) - chain0) / READS_FOR_CPU;
  return { readNodeCpuMs, readChainCpuMs, readCpuMs: readNodeCpuMs + readChainCpuMs };
}

/** utime + stime of a process (all its threads), in ms. */
async function cpuMs(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15)
  return (ticks * 1000) / CLOCK_TICKS;
}

/** USER_HZ: 100 on Linux (sysconf(_SC_CLK_TCK)). */
const CLOCK_TICKS = 100;

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const scales = (process.argv[2] ?? '1,10,100').split(',').map(Number);
  const levels = await benchSearch(scales);
  process.stdout.write(`${JSON.stringify(levels, null, 2)}\n`);
  process.exit(0);
}
