/** Import throughput over the Synthea set against a plain bulk insert of the same resources. */
import { benchImport } from '../import.ts';
import type { BenchSection } from '../run.ts';

export const importSection: BenchSection = {
  name: 'import',
  title: 'Import: Synthea set',
  async run() {
    const ok = (value: boolean) => (value ? '✓' : '✗');
    const n = (x: number) => Math.round(x).toLocaleString('en-US');
    const rows: string[] = [];
    for (const backEnd of ['pglite', 'postgres'] as const) {
      const r = await benchImport(backEnd);
      rows.push(
        `| ${backEnd} | ${r.resources.toLocaleString('en-US')} | ${n(r.resourcesPerSec)} | ${ok(r.resourcesPerSec >= 1000)} | ${n(r.plainInsertsPerSec)} | **${r.ratio.toFixed(3)}** | ${ok(r.ratio >= 1 / 3)} |`,
      );
    }
    return [
      '`medledger import` of every bundle in ../shared/data/synthea (validation, reference resolution and dedupe,',
      'encryption, commitment, search index, batch anchoring, audit) into a new database, against a plain bulk',
      'insert of the same resources into a jsonb table of the same back end in the same run: embedded PGlite (the',
      'default), and the PostgreSQL server (a schema of its own; the database then works on the second core).',
      '',
      '| back end | resources | medledger import (resources/s) | goal ≥ 1,000 | plain jsonb bulk insert (resources/s) | ratio | goal ≥ 0.33 |',
      '|---|---:|---:|:-:|---:|---:|:-:|',
      ...rows,
    ].join('\n');
  },
};
