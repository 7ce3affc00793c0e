/** Secured writes and reads (encrypt, commit, batch-anchor / decrypt, verify) against plain jsonb, on both back ends. */

import type { BenchSection } from '../run.ts';
import { benchVault } from '../vault.ts';

const N = 2000;

export const vaultSection: BenchSection = {
  name: 'vault',
  title: 'Vault: secured vs plain PostgreSQL',
  async run() {
    const lines: string[] = [];
    for (const kind of ['pglite', 'postgres'] as const) {
      const r = await benchVault(kind, N);
      const w = r.securedWritesPerSec / r.plainInsertsPerSec;
      const rd = r.securedReadsPerSec / r.plainReadsPerSec;
      lines.push(
        `| ${kind} | ${fmt(r.securedWritesPerSec)} | ${fmt(r.plainInsertsPerSec)} | **${w.toFixed(2)}×** ${w >= 0.5 ? '✓' : '✗'} | ${fmt(r.securedReadsPerSec)} | ${fmt(r.plainReadsPerSec)} | **${rd.toFixed(2)}×** ${rd >= 0.5 ? '✓' : '✗'} |`,
      );
    }
    return [
      `${N} FHIR resources per back end, the same JSON for both paths. Secured write = validate, canonicalize,`,
      'encrypt (fresh data key, wrapped by the KEK), commit, store, and batch into anchor batches with outbox entries.',
      'Plain write = `INSERT` of the same JSON into a `jsonb` table. Secured read = decrypt + recompute leaf + verify the',
      'Merkle proof against the anchored root; plain read = `SELECT` of the jsonb row. Goal: ratios ≥ 0.5.',
      '',
      '| back end | secured writes/s | plain inserts/s | ratio | secured reads/s | plain reads/s | ratio |',
      '|---|---:|---:|---:|---:|---:|---:|',
      ...lines,
    ].join('\n');
  },
};

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
