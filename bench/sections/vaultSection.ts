/** Secured writes and reads (encrypt, commit, batch-anchor / decrypt, verify) against plain jsonb, on both back ends. */

import type { BenchSection } from '../run.ts';
import { benchVault } from '../vault.ts';

/** 5 interleaved rounds of 1,200 per path (400 until 2026-11-25: a plain read round then lasted ~20 ms and its rate moved by a quarter between runs). */
const N = 6000;

export const vaultSection: BenchSection = {
  name: 'vault',
  title: 'Vault: secured vs plain PostgreSQL',
  async run() {
    const lines: string[] = [];
    const prepared: string[] = [];
    const cpu: string[] = [];
    for (const kind of ['pglite', 'postgres'] as const) {
      const r = await benchVault(kind, N);
      const w = r.securedWritesPerSec / r.plainInsertsPerSec;
      const rd = r.securedReadsPerSec / r.plainReadsPerSec;
      const pw = r.securedWritesPerSec / r.plainPreparedInsertsPerSec;
      const prd = r.securedReadsPerSec / r.plainPreparedReadsPerSec;
      lines.push(
        `| ${kind} | ${fmt(r.securedWritesPerSec)} | ${fmt(r.plainInsertsPerSec)} | **${w.toFixed(2)}×** ${mark(w)} | ${fmt(r.securedReadsPerSec)} | ${fmt(r.plainReadsPerSec)} | **${rd.toFixed(2)}×** ${mark(rd)} |`,
      );
      const c = r.cpuUs;
      cpu.push(
        `| ${kind} | ${c.securedWrite.toFixed(0)} µs | ${c.plainWrite.toFixed(0)} µs | ${c.securedRead.toFixed(0)} µs | ${c.plainRead.toFixed(0)} µs | ${(c.plainRead / c.securedRead).toFixed(2)} |`,
      );
      prepared.push(
        `| ${kind} | ${fmt(r.plainPreparedInsertsPerSec)} | **${pw.toFixed(2)}×** ${mark(pw)} | ${fmt(r.plainPreparedReadsPerSec)} | **${prd.toFixed(2)}×** ${mark(prd)} |`,
      );
    }
    return [
      `${N.toLocaleString('en-US')} FHIR resources per back end (5 interleaved rounds per path), the same JSON for both paths. Secured write = validate, canonicalize,`,
      'encrypt (fresh data key, wrapped by the KEK), commit, store, and batch into anchor batches with outbox entries.',
      'Plain write = `INSERT` of the same JSON into a `jsonb` table. Secured read = decrypt + recompute leaf + verify the',
      'Merkle proof against the anchored root; plain read = `SELECT` of the jsonb row. Goal: ratios ≥ 0.5.',
      'The secured path runs its statements prepared (parsed and planned once per connection); the first table',
      'compares it with plain statements sent as SQL text (as the baseline always was), the second with the plain',
      'statements prepared too, which is the like-for-like comparison of what security costs.',
      '',
      '| back end | secured writes/s | plain inserts/s | ratio | secured reads/s | plain reads/s | ratio |',
      '|---|---:|---:|---:|---:|---:|---:|',
      ...lines,
      '',
      'Against plain statements that are prepared as well (same run):',
      '',
      '| back end | plain inserts/s (prepared) | secured/plain | plain reads/s (prepared) | secured/plain |',
      '|---|---:|---:|---:|---:|',
      ...prepared,
      '',
      "This process's CPU per operation (all threads; with PGlite the database runs in it too, the server's",
      'CPU is not in it). Where a path keeps this process busy the whole time, its rate is bounded by this CPU;',
      'the last column is the read ratio that bound allows:',
      '',
      '| back end | secured write | plain write | secured read | plain read | plain / secured read CPU |',
      '|---|---:|---:|---:|---:|---:|',
      ...cpu,
    ].join('\n');
  },
};

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const mark = (ratio: number) => (ratio >= 0.5 ? '✓' : '✗');
