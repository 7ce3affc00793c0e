/**
 * FHIR API latency over loopback HTTP at concurrency 1: a read with every check (token,
 * on-chain consent from the cache, audit event, decrypt, verify) against the same read on a
 * bench-only route registered with `unchecked: true` (no token, consent or audit; still
 * decrypt + verify), and search throughput. Run: `node bin/run-ts.js bench/fhir.ts [n]`.
 */
import { pathToFileURL } from 'node:url';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { DEFAULT_BATCH_MAX_DELAY_MS } from '../src/config/config.ts';
import { registerFhirRoutes } from '../src/fhir/registerFhirRoutes.ts';
import { startTestNode } from '../src/fhir/testing/startTestNode.ts';
import { measureLatency } from './latencyClient.ts';

export interface FhirBenchResult {
  checkedP50Ms: number;
  checkedP99Ms: number;
  uncheckedP50Ms: number;
  uncheckedP99Ms: number;
  checksRatioP50: number;
  searchesPerSec: number;
}

export async function benchFhirRead(n = 500): Promise<FhirBenchResult> {
  const t = await startTestNode({
    // The node's own anchoring delay (tests use 200 ms so that they finish sooner).
    env: { MEDLEDGER_BATCH_MAX_DELAY_MS: String(DEFAULT_BATCH_MAX_DELAY_MS) },
    extraRoutes: (app, node) =>
      registerFhirRoutes(app, node, { prefix: '/bench-unchecked/fhir', unchecked: true }).then(() => {}),
  });
  try {
    const admin = await t.bearer({ kind: 'system', scope: 'system/*.cruds' });
    const patientKey = privateKeyToAccount(generatePrivateKey());
    const member = privateKeyToAccount(generatePrivateKey()).address.toLowerCase() as `0x${string}`;
    const post = (body: { resourceType: string; [field: string]: unknown }) => t.create(body, admin);
    const patient = await post({
      resourceType: 'Patient',
      name: [{ family: 'Bench' }],
      identifier: [{ system: 'urn:medledger:address', value: patientKey.address.toLowerCase() }],
    });
    let observation = '';
    for (let i = 0; i < 50; i++) {
      observation = await post({
        resourceType: 'Observation',
        status: 'final',
        code: { coding: [{ system: 'http://loinc.org', code: i % 2 ? '8480-6' : '8462-4' }] },
        subject: { reference: `Patient/${patient}` },
        valueQuantity: { value: 100 + i, unit: 'mmHg' },
      });
    }
    await t.grant(patientKey, member, { resourceTypes: ['Observation', 'Patient'], purposes: ['TREAT'] });
    const asMember = await t.bearer({
      kind: 'system',
      scope: 'system/*.rs',
      address: member,
      internal: false,
    });
    const base = t.fhirUrl.replace(/\/fhir$/, '');

    // The client runs in its own process (as an EHR would), so its fetch work does not queue
    // behind the server's in one event loop.
    const time = (url: string, headers: Record<string, string>) =>
      measureLatency({ url, headers, n, warmup: 50 });
    const unchecked = await time(`${base}/bench-unchecked/fhir/Observation/${observation}`, {});
    const checked = await time(`${t.fhirUrl}/Observation/${observation}`, { authorization: asMember });

    const searches = Math.max(20, Math.floor(n / 10));
    const s0 = performance.now();
    for (let i = 0; i < searches; i++) {
      const r = await fetch(
        `${t.fhirUrl}/Observation?patient=${patient}&code=http://loinc.org|8480-6&_count=10`,
        {
          headers: { authorization: asMember },
        },
      );
      await r.arrayBuffer();
    }
    const searchesPerSec = searches / ((performance.now() - s0) / 1000);
    return {
      checkedP50Ms: checked.p50,
      checkedP99Ms: checked.p99,
      uncheckedP50Ms: unchecked.p50,
      uncheckedP99Ms: unchecked.p99,
      checksRatioP50: checked.p50 / unchecked.p50,
      searchesPerSec,
    };
  } finally {
    await t.stop();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const result = await benchFhirRead(Number(process.argv[2] ?? 500));
  const f = (x: number) => x.toFixed(2);
  process.stdout.write(
    `FHIR read, loopback, concurrency 1\n` +
      `  full checks (token, consent, audit, decrypt, verify): p50 ${f(result.checkedP50Ms)} ms  p99 ${f(result.checkedP99Ms)} ms\n` +
      `  no checks (decrypt, verify only):                    p50 ${f(result.uncheckedP50Ms)} ms  p99 ${f(result.uncheckedP99Ms)} ms\n` +
      `  checks cost ×${f(result.checksRatioP50)} at p50\n` +
      `search (patient + code, 25 candidates each): ${result.searchesPerSec.toFixed(0)} searches/s\n`,
  );
  process.exit(0);
}
