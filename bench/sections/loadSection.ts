/**
 * `npm run bench -- load`: autocannon against a node serving on loopback in its own process,
 * a mixed workload by 50 connections with distinct tokens: consent-checked reads by other
 * members' systems (their access rests on each patient's on-chain grant), patients reading
 * their own records, searches, and writes. Baseline: the same run against the bench-only
 * unchecked routes (no token, scopes, consent or audit; still decrypt, verify, encrypt,
 * commit and anchor). 5 minutes each by default; MEDLEDGER_LOAD_SECONDS shortens it.
 *   node bin/run-ts.js bench/sections/loadSection.ts serve   # the server half (prints its setup)
 */
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { generatePrivateKey, type PrivateKeyAccount, privateKeyToAccount } from 'viem/accounts';
import type { MintParameters } from '../../src/access/testing/mintAccessToken.ts';
import { DEFAULT_BATCH_MAX_DELAY_MS } from '../../src/config/config.ts';
import { registerFhirRoutes } from '../../src/fhir/registerFhirRoutes.ts';
import { startTestNode } from '../../src/fhir/testing/startTestNode.ts';
import type { BenchSection } from '../run.ts';

/** The part of autocannon's API used here (the package ships no type declarations). */
interface CannonRequest {
  method: string;
  path?: string;
  headers?: Record<string, string>;
  body?: string;
  setupRequest?: (request: CannonRequest, context: Record<string, unknown>) => CannonRequest;
}
interface CannonResult {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number; max: number };
  non2xx: number;
  errors: number;
  timeouts: number;
}
type Autocannon = (options: {
  url: string;
  connections: number;
  duration: number;
  timeout: number;
  requests: CannonRequest[];
}) => Promise<CannonResult>;
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

export const CONNECTIONS = 50;
export const PATIENTS = 10;
export const MEMBERS = 5;
export const OBSERVATIONS_PER_PATIENT = 20;

export interface LoadSetup {
  base: string;
  admin: string;
  patients: Array<{ id: string; token: string; observations: string[] }>;
  /** Other members' system tokens; every patient granted each of them Observation + Patient. */
  members: string[];
}

/** Runs the node (with the unchecked baseline routes), seeds it, prints the setup as one JSON line. */
async function serve(): Promise<void> {
  const t = await startTestNode({
    // The node's own anchoring delay (tests use 200 ms so that they finish sooner).
    env: { MEDLEDGER_BATCH_MAX_DELAY_MS: String(DEFAULT_BATCH_MAX_DELAY_MS) },
    extraRoutes: (app, node) =>
      registerFhirRoutes(app, node, { prefix: '/bench-unchecked/fhir', unchecked: true }).then(() => {}),
  });
  const admin = await t.bearer({ kind: 'system', scope: 'system/*.cruds', lifetimeSeconds: 7200 });
  const seeded = await seedLoad({
    post: (body) => t.create(body, admin),
    grant: (patient, grantee) =>
      t.grant(patient, grantee, {
        resourceTypes: ['Observation', 'Patient'],
        purposes: ['TREAT'],
        expiry: Math.floor(Date.now() / 1000) + 7200,
      }),
    bearer: (parameters) => t.bearer(parameters),
  });
  const setup: LoadSetup = { base: t.fhirUrl.replace(/\/fhir$/, ''), admin, ...seeded };
  process.stdout.write(`${JSON.stringify(setup)}\n`);
  await new Promise<void>((resolve) => process.once('SIGTERM', () => resolve()));
  await t.stop();
  process.exit(0);
}

/**
 * Seeds what the workload reads: PATIENTS patients with OBSERVATIONS_PER_PATIENT Observations
 * each, every patient's grant (Observation and Patient, TREAT) to each of MEMBERS other members,
 * and the patients' and members' tokens; through whatever node `ops` writes to.
 */
export async function seedLoad(ops: {
  post(resource: { resourceType: string; [field: string]: unknown }): Promise<string>;
  grant(patient: PrivateKeyAccount, grantee: `0x${string}`): Promise<void>;
  bearer(parameters: MintParameters): Promise<string>;
}): Promise<Pick<LoadSetup, 'patients' | 'members'>> {
  const memberAddresses = Array.from({ length: MEMBERS }, () =>
    privateKeyToAccount(generatePrivateKey()).address.toLowerCase(),
  ) as `0x${string}`[];
  const patients: LoadSetup['patients'] = [];
  for (let p = 0; p < PATIENTS; p++) {
    const key = privateKeyToAccount(generatePrivateKey());
    const id = await ops.post({
      resourceType: 'Patient',
      name: [{ family: `Load${p}` }],
      identifier: [{ system: 'urn:medledger:address', value: key.address.toLowerCase() }],
    });
    const observations: string[] = [];
    for (let i = 0; i < OBSERVATIONS_PER_PATIENT; i++)
      observations.push(await ops.post(observationOf(id, i)));
    for (const member of memberAddresses) await ops.grant(key, member);
    const token = await ops.bearer({
      kind: 'patient',
      scope: 'patient/*.rs',
      patient: id,
      address: key.address.toLowerCase(),
      lifetimeSeconds: 7200,
    });
    patients.push({ id, token, observations });
  }
  const members = await Promise.all(
    memberAddresses.map((address) =>
      ops.bearer({ kind: 'system', scope: 'system/*.rs', address, internal: false, lifetimeSeconds: 7200 }),
    ),
  );
  return { patients, members };
}

export function observationOf(patient: string, i: number) {
  return {
    resourceType: 'Observation',
    status: 'final',
    code: { coding: [{ system: 'http://loinc.org', code: i % 2 ? '8480-6' : '8462-4' }] },
    subject: { reference: `Patient/${patient}` },
    valueQuantity: { value: 100 + (i % 50), unit: 'mmHg' },
  };
}

/**
 * The mix each connection cycles through (10 requests): 4 consent-checked reads by another
 * member, 2 own-record reads by the patient, 2 searches, 2 writes. With `prefix` set to the
 * unchecked routes the same requests carry no token and meet no check.
 */
function workload(setup: LoadSetup, prefix: string, checked: boolean): CannonRequest[] {
  let next = 0;
  const pick = <T>(items: T[], n: number) => items[n % items.length] as T;
  const auth = (token: string) => (checked ? { authorization: token } : {});
  const json = { 'content-type': 'application/fhir+json' };
  // Each connection gets its own patient and member on its first request (context is per connection).
  type Context = { patient?: LoadSetup['patients'][number]; member?: string; n: number };
  const at = (context: Context) => {
    if (!context.patient) {
      const c = next++;
      context.patient = pick(setup.patients, c);
      context.member = pick(setup.members, c);
      context.n = c;
    }
    context.n++;
    return context as Required<Context>;
  };
  const read = (asPatient: boolean): CannonRequest => ({
    method: 'GET',
    setupRequest: (request, context) => {
      const c = at(context as unknown as Context);
      const id = pick(c.patient.observations, c.n);
      return {
        ...request,
        path: `${prefix}/Observation/${id}`,
        headers: auth(asPatient ? c.patient.token : c.member),
      };
    },
  });
  const search: CannonRequest = {
    method: 'GET',
    setupRequest: (request, context) => {
      const c = at(context as unknown as Context);
      return {
        ...request,
        path: `${prefix}/Observation?patient=${c.patient.id}&code=http://loinc.org|8480-6&_count=10`,
        headers: auth(c.member),
      };
    },
  };
  const write: CannonRequest = {
    method: 'POST',
    setupRequest: (request, context) => {
      const c = at(context as unknown as Context);
      return {
        ...request,
        path: `${prefix}/Observation`,
        headers: { ...json, ...auth(setup.admin) },
        body: JSON.stringify(observationOf(c.patient.id, c.n)),
      };
    },
  };
  return [
    read(false),
    read(true),
    search,
    write,
    read(false),
    read(false),
    read(true),
    search,
    write,
    read(false),
  ];
}

export interface LoadFigures {
  requestsPerSec: number;
  p50: number;
  p99: number;
  max: number;
  total: number;
  non2xx: number;
  errors: number;
  timeouts: number;
}

export async function cannon(
  setup: LoadSetup,
  prefix: string,
  checked: boolean,
  seconds: number,
): Promise<LoadFigures> {
  const result = await autocannon({
    url: setup.base,
    connections: CONNECTIONS,
    duration: seconds,
    timeout: 30,
    requests: workload(setup, prefix, checked),
  });
  return {
    requestsPerSec: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    max: result.latency.max,
    total: result.requests.total,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
  };
}

export async function benchLoad(seconds: number): Promise<{ checked: LoadFigures; unchecked: LoadFigures }> {
  const server = spawn('node', ['bin/run-ts.js', 'bench/sections/loadSection.ts', 'serve'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    const line = await new Promise<string>((resolve, reject) => {
      createInterface({ input: server.stdout }).once('line', resolve);
      server.once('exit', (code) => reject(new Error(`load server exited (${code})`)));
    });
    const setup = JSON.parse(line) as LoadSetup;
    // Warm-up, then the baseline and the checked run, each for the same time.
    await cannon(setup, '/fhir', true, 5);
    const unchecked = await cannon(setup, '/bench-unchecked/fhir', false, seconds);
    const checked = await cannon(setup, '/fhir', true, seconds);
    return { checked, unchecked };
  } finally {
    server.kill('SIGTERM');
    await new Promise((resolve) => server.once('exit', resolve));
  }
}

export const loadSection: BenchSection = {
  name: 'load',
  title: 'Load: mixed workload under autocannon',
  async run() {
    const seconds = Number(process.env.MEDLEDGER_LOAD_SECONDS ?? 300);
    const { checked, unchecked } = await benchLoad(seconds);
    const row = (name: string, f: LoadFigures) =>
      `| ${name} | ${f.requestsPerSec.toFixed(0)} | ${f.p50} | ${f.p99} | ${f.max} | ${f.total.toLocaleString('en-US')} | ${f.non2xx + f.errors + f.timeouts} |`;
    const ok = (value: boolean) => (value ? '✓' : '✗');
    const failures = checked.non2xx + checked.errors + checked.timeouts;
    return [
      `autocannon, ${CONNECTIONS} connections for ${seconds} s each, against a node (embedded anvil + PGlite) serving on`,
      `loopback in its own process. Each connection cycles through 4 reads by another member's system (consent`,
      `checked against the patient's on-chain grant; ${MEMBERS} member tokens), 2 own-record reads by the patient`,
      `(${PATIENTS} patient tokens), 2 searches (patient + code) and 2 writes (Observation create: encrypt, commit,`,
      'search index, audit, batch anchoring). Baseline: the same requests on the bench-only unchecked routes',
      '(no token, scopes, consent or audit) in the same run. The node runs with its default anchoring delay (2 s).',
      '',
      '| | requests/s | p50 (ms) | p99 (ms) | max (ms) | requests | errors (non-2xx, failed, timeouts) |',
      '|---|---:|---:|---:|---:|---:|---:|',
      row('all checks', checked),
      row('unchecked baseline', unchecked),
      '',
      `Throughput with checks **${(checked.requestsPerSec / unchecked.requestsPerSec).toFixed(2)}×** the baseline; p50`,
      `**${(checked.p50 / Math.max(unchecked.p50, 1)).toFixed(2)}×**, p99 **${(checked.p99 / Math.max(unchecked.p99, 1)).toFixed(2)}×**.`,
      `Zero errors ${ok(failures === 0)} (${failures}).`,
    ].join('\n');
  },
};

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href && process.argv[2] === 'serve') {
  await serve();
}
