/** FHIR read latency with every check vs the same read without token/consent/audit, and search throughput. */
import { benchFhirRead } from '../fhir.ts';
import type { BenchSection } from '../run.ts';

const N = 500;

export const fhirSection: BenchSection = {
  name: 'fhir',
  title: 'FHIR API: read latency and search',
  async run() {
    const r = await benchFhirRead(N);
    const ok = (value: boolean) => (value ? '✓' : '✗');
    return [
      `${N} reads over loopback HTTP at concurrency 1 by an external member's client whose access rests on the`,
      "patient's on-chain consent; the client runs in a process of its own, as an EHR would (until 2026-11-25 it ran in",
      "the node's process, where its own fetch work, ~0.3 ms a request, queued with the server's). Checked = token, scopes,",
      'consent decision, audit event, decrypt, verify; unchecked =',
      'a bench-only route (never registered in production) that still decrypts and verifies. The node runs with its',
      'default anchoring delay (batches every 2 s or 1,000 leaves; the test suite uses 200 ms to finish sooner).',
      '',
      '| | p50 (ms) | p99 (ms) |',
      '|---|---:|---:|',
      `| read, all checks | ${r.checkedP50Ms.toFixed(2)} | ${r.checkedP99Ms.toFixed(2)} |`,
      `| read, no token/consent/audit | ${r.uncheckedP50Ms.toFixed(2)} | ${r.uncheckedP99Ms.toFixed(2)} |`,
      '',
      `Checks cost **${r.checksRatioP50.toFixed(2)}×** at p50 (goal ≤ 2× ${ok(r.checksRatioP50 <= 2)}); goals p50 ≤ 2 ms ${ok(r.checkedP50Ms <= 2)}, p99 ≤ 10 ms ${ok(r.checkedP99Ms <= 10)}.`,
      `Search throughput: ${r.searchesPerSec.toFixed(1)} searches/s.`,
    ].join('\n');
  },
};
