/** Import throughput over the Synthea set against a plain bulk insert of the same resources. */
import { benchImport } from '../import.ts';
import type { BenchSection } from '../run.ts';

export const importSection: BenchSection = {
  name: 'import',
  title: 'Import: Synthea set',
  async run() {
    const r = await benchImport();
    const ok = (value: boolean) => (value ? '✓' : '✗');
    return [
      '`medledger import` of every bundle in ../shared/data/synthea (validation, reference resolution and dedupe,',
      'encryption, commitment, search index, batch anchoring, audit) into embedded PGlite, against a plain bulk',
      'insert of the same resources into a jsonb table in the same run.',
      '',
      '| | resources | resources/s |',
      '|---|---:|---:|',
      `| medledger import | ${r.resources.toLocaleString('en-US')} | ${Math.round(r.resourcesPerSec).toLocaleString('en-US')} |`,
      `| plain jsonb bulk insert | ${r.resources.toLocaleString('en-US')} | ${Math.round(r.plainInsertsPerSec).toLocaleString('en-US')} |`,
      '',
      `Ratio **${r.ratio.toFixed(3)}** (goal ≥ 0.33 ${ok(r.ratio >= 1 / 3)}); goal ≥ 1,000 resources/s ${ok(r.resourcesPerSec >= 1000)}.`,
    ].join('\n');
  },
};
