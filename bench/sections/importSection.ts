/** Import throughput over the Synthea set against a plain bulk insert of the same resources. */
import { availableParallelism } from 'node:os';
import { benchImport } from '../import.ts';
import type { BenchSection } from '../run.ts';

export const importSection: BenchSection = {
  name: 'import',
  title: 'Import: Synthea set',
  async run() {
    const ok = (value: boolean) => (value ? '✓' : '✗');
    const n = (x: number) => Math.round(x).toLocaleString('en-US');
    const rows: string[] = [];
    const bounds: string[] = [];
    const cores = availableParallelism();
    for (const backEnd of ['pglite', 'postgres'] as const) {
      const r = await benchImport(backEnd);
      rows.push(
        `| ${backEnd} | ${r.resources.toLocaleString('en-US')} | ${n(r.resourcesPerSec)} | ${ok(r.resourcesPerSec >= 1000)} | ${n(r.plainInsertsPerSec)} | **${r.ratio.toFixed(3)}** | ${ok(r.ratio >= 1 / 3)} |`,
      );
      // If every core did nothing but validate: an upper bound on any import that validates.
      const ceiling = (cores * 1e6) / r.validationUs;
      bounds.push(
        `| ${backEnd} | ${n(r.validationUs)} µs | ${n(ceiling)} | ${(ceiling / r.plainInsertsPerSec).toFixed(2)} |`,
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
      '',
      "What validation alone allows (the import validates every resource, as the API does: @medplum/core's",
      `validator plus medledger's write rules). CPU per resource measured on one thread over the same set in the`,
      `same run, and the rate if all ${cores} cores of this machine did nothing else, as a fraction of the plain insert:`,
      '',
      '| back end | validation CPU per resource | ceiling (resources/s, validation only, every core) | ceiling / plain |',
      '|---|---:|---:|---:|',
      ...bounds,
    ].join('\n');
  },
};
