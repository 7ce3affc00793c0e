/**
 * `npm run bench -- scaling`: the core measurements (write, consent-checked read, search, audit
 * append, full verification) on one node as its data grows from 1× to 10× to 100× (synthetic
 * Observations over synthetic patients, loaded through FHIR batch Bundles), to show which
 * operations stay flat and which grow. Each figure is next to its own 1× value, as a ratio.
 */
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { sampleAuditEvent } from '../../src/audit/testing/openTestAudit.ts';
import { startTestNode, type TestNode } from '../../src/fhir/testing/startTestNode.ts';
import { verifyDatabase } from '../../src/verify/verifyDatabase.ts';
import type { BenchSection } from '../run.ts';

/** Observations at 1×; 10× and 100× multiply it. Twenty per synthetic patient. */
const BASE = Number(process.env.MEDLEDGER_SCALING_BASE ?? 50);
const PER_PATIENT = 20;
const SAMPLES = 50;

interface Level {
  scale: number;
  observations: number;
  recordVersions: number;
  auditEvents: number;
  writeP50: number;
  readP50: number;
  searchPatientP50: number;
  searchCodeP50: number;
  auditAppendsPerSec: number;
  verifyMs: number;
  /** Requests answered 503 (consent state not current) and retried. */
  unavailable: number;
}

const median = (samples: number[]) => {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
};

function observation(patient: string, i: number) {
  return {
    resourceType: 'Observation',
    status: 'final',
    code: {
      coding: [{ system: 'http://loinc.org', code: ['8480-6', '8462-4', '8867-4', '29463-7'][i % 4] }],
    },
    subject: { reference: `Patient/${patient}` },
    effectiveDateTime: new Date(Date.UTC(2020, 0, 1) + i * 3_600_000).toISOString(),
    valueQuantity: { value: 60 + (i % 80), unit: 'mmHg' },
  };
}

/** Adds `count` Observations over new patients (20 each), 100 entries per batch Bundle. */
async function grow(t: TestNode, admin: string, count: number): Promise<void> {
  const send = async (entries: unknown[]) => {
    const r = await fetch(t.fhirUrl, {
      method: 'POST',
      headers: { authorization: admin, 'content-type': 'application/fhir+json' },
      body: JSON.stringify({ resourceType: 'Bundle', type: 'batch', entry: entries }),
    });
    const bundle = (await r.json()) as { entry?: Array<{ response: { status: string; location?: string } }> };
    if (r.status !== 200) throw new Error(`batch failed: ${r.status}`);
    return bundle.entry ?? [];
  };
  const patients = Math.ceil(count / PER_PATIENT);
  for (let p0 = 0; p0 < patients; p0 += 100) {
    const created = await send(
      Array.from({ length: Math.min(100, patients - p0) }, () => ({
        resource: { resourceType: 'Patient', name: [{ family: 'Scale' }] },
        request: { method: 'POST', url: 'Patient' },
      })),
    );
    const ids = created.map((e) => /Patient\/([^/]+)/.exec(e.response.location ?? '')?.[1] ?? '');
    const entries = ids.flatMap((id) =>
      Array.from({ length: PER_PATIENT }, (_, i) => ({
        resource: observation(id, i),
        request: { method: 'POST', url: 'Observation' },
      })),
    );
    for (let i = 0; i < entries.length; i += 100) await send(entries.slice(i, i + 100));
  }
}

/** Builds the pending batches and waits until every chain write is confirmed. */
async function drainAnchoring(t: TestNode): Promise<void> {
  await t.node.recordBatcher.flush();
  await t.node.auditBatcher.flush();
  const deadline = Date.now() + 300_000;
  while ((await t.countRows("chain_outbox WHERE status IN ('pending', 'signed')")) > 0) {
    if (Date.now() > deadline) throw new Error('anchoring did not drain');
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function measure(
  t: TestNode,
  scale: number,
  probe: { admin: string; member: string; patient: string; observations: string[] },
): Promise<Level> {
  let unavailable = 0;
  const time = async (n: number, request: (i: number) => Promise<Response>) => {
    const samples: number[] = [];
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      const r = await request(i);
      await r.arrayBuffer();
      if (r.status === 503) {
        // Consent state not current (the indexer's poll was starved by the backlog): fail closed.
        unavailable++;
        i--;
        await new Promise((resolve) => setTimeout(resolve, 200));
        continue;
      }
      if (r.status >= 300) throw new Error(`bench request failed: ${r.status}`);
      samples.push(performance.now() - t0);
    }
    return median(samples);
  };
  // Measured in steady state: the anchoring of what was just loaded is not competing.
  await drainAnchoring(t);
  const get = (path: string, authorization: string) =>
    fetch(`${t.fhirUrl}/${path}`, { headers: { authorization } });
  const writeP50 = await time(SAMPLES, (i) =>
    fetch(`${t.fhirUrl}/Observation`, {
      method: 'POST',
      headers: { authorization: probe.admin, 'content-type': 'application/fhir+json' },
      body: JSON.stringify(observation(probe.patient, i)),
    }),
  );
  const readP50 = await time(SAMPLES, (i) =>
    get(`Observation/${probe.observations[i % probe.observations.length]}`, probe.member),
  );
  const searchPatientP50 = await time(SAMPLES / 2, () =>
    get(`Observation?patient=${probe.patient}&code=http://loinc.org|8480-6&_count=10`, probe.member),
  );
  const searchCodeP50 = await time(SAMPLES / 2, () =>
    get('Observation?code=http://loinc.org|8480-6&_count=10', probe.admin),
  );

  const appends = 1000;
  const a0 = performance.now();
  await Promise.all(
    Array.from({ length: appends }, () => t.node.audit.append(sampleAuditEvent(probe.patient))),
  );
  const auditAppendsPerSec = appends / ((performance.now() - a0) / 1000);

  // Verification needs everything anchored first.
  await drainAnchoring(t);
  const v0 = performance.now();
  const report = await verifyDatabase({
    db: t.node.db,
    chain: {
      publicClient: t.node.chain.publicClient,
      anchors: t.node.chain.addresses.anchors,
      member: t.node.identity.account.address,
      fromBlock: BigInt(t.node.chain.addresses.deployBlock),
    },
    keyring: t.node.keyring,
    maxPendingAgeMs: 600_000,
  });
  const verifyMs = performance.now() - v0;
  if (!report.ok) throw new Error('verify failed during the scaling bench');
  return {
    scale,
    observations: await t.countRows("record_versions WHERE resource_type = 'Observation'"),
    recordVersions: await t.countRows('record_versions'),
    auditEvents: await t.countRows('audit_events'),
    writeP50,
    readP50,
    searchPatientP50,
    searchCodeP50,
    auditAppendsPerSec,
    verifyMs,
    unavailable,
  };
}

export async function benchScaling(): Promise<Level[]> {
  const t = await startTestNode();
  try {
    const admin = await t.bearer({ kind: 'system', scope: 'system/*.cruds', lifetimeSeconds: 7200 });
    const patientKey = privateKeyToAccount(generatePrivateKey());
    const memberAddress = privateKeyToAccount(generatePrivateKey()).address.toLowerCase() as `0x${string}`;
    const post = (body: { resourceType: string; [field: string]: unknown }) => t.create(body, admin);
    const patient = await post({
      resourceType: 'Patient',
      identifier: [{ system: 'urn:medledger:address', value: patientKey.address.toLowerCase() }],
    });
    const observations: string[] = [];
    for (let i = 0; i < PER_PATIENT; i++) observations.push(await post(observation(patient, i)));
    await t.grant(patientKey, memberAddress, {
      resourceTypes: ['Observation', 'Patient'],
      purposes: ['TREAT'],
      expiry: Math.floor(Date.now() / 1000) + 7200,
    });
    const member = await t.bearer({
      kind: 'system',
      scope: 'system/*.rs',
      address: memberAddress,
      internal: false,
      lifetimeSeconds: 7200,
    });
    const probe = { admin, member, patient, observations };
    const levels: Level[] = [];
    let loaded = PER_PATIENT;
    for (const scale of [1, 10, 100]) {
      await grow(t, admin, BASE * scale - loaded);
      loaded = BASE * scale;
      process.stderr.write(`bench: scaling ${scale}× loaded\n`);
      levels.push(await measure(t, scale, probe));
    }
    return levels;
  } finally {
    await t.stop();
  }
}

export const scalingSection: BenchSection = {
  name: 'scaling',
  title: 'Scaling: 1×, 10×, 100× the data',
  async run() {
    const levels = await benchScaling();
    const [one] = levels as [Level];
    const cols = (f: (l: Level) => number, digits: number, higherIsBetter = false) =>
      `${levels.map((l) => f(l).toFixed(digits)).join(' | ')} | ${levels
        .slice(1)
        .map((l) => `${(higherIsBetter ? f(one) / f(l) : f(l) / f(one)).toFixed(2)}×`)
        .join(' / ')}`;
    return [
      `One node (embedded anvil + PGlite) loaded with ${levels.map((l) => l.observations.toLocaleString('en-US')).join(', ')} synthetic`,
      `Observations (${PER_PATIENT} per patient, through FHIR batch Bundles), measured at each size, once the anchoring of the load has drained, over loopback HTTP at`,
      `concurrency 1 (${SAMPLES} samples, medians). Read = another member's system reading one patient's Observation`,
      "under the patient's on-chain consent; search by patient = that patient's Observations with one code; search by",
      'code = all Observations with one code, first page of 10. Audit append = 1,000 concurrent sealed appends.',
      'Verify = `medledger verify` (with keys) over every record version and audit event. The last column is the',
      'cost at 10× and 100× relative to 1× (1.00× = flat; for throughput, 1× / N×)',
      '',
      `| | ${levels.map((l) => `${l.scale}×`).join(' | ')} | cost at 10× / 100× |`,
      `|---|${levels.map(() => '---:').join('|')}|---:|`,
      `| record versions / audit events | ${levels.map((l) => `${l.recordVersions.toLocaleString('en-US')} / ${l.auditEvents.toLocaleString('en-US')}`).join(' | ')} | |`,
      `| write p50 (ms) | ${cols((l) => l.writeP50, 2)} |`,
      `| consent-checked read p50 (ms) | ${cols((l) => l.readP50, 2)} |`,
      `| search by patient p50 (ms) | ${cols((l) => l.searchPatientP50, 2)} |`,
      `| search by code p50 (ms) | ${cols((l) => l.searchCodeP50, 2)} |`,
      `| audit appends/s | ${cols((l) => l.auditAppendsPerSec, 0, true)} |`,
      `| verify, whole database (ms) | ${cols((l) => l.verifyMs, 0)} |`,
      '',
      `Requests refused with 503 because the consent state was not current (retried, not in the medians): ${levels.map((l) => `${l.scale}×: ${l.unavailable}`).join(', ')}.`,
    ].join('\n');
  },
};
