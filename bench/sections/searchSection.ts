/**
 * `npm run bench -- search`: the searches of issue 22 and the CPU of a read by id, with the
 * Synthea set loaded and then 10× (and, with MEDLEDGER_SEARCH_SCALES=1,10,100, 100×) the data.
 */

import type { BenchSection } from '../run.ts';
import { benchSearch, type QueryName, type SearchLevel } from '../search.ts';

const SCALES = (process.env.MEDLEDGER_SEARCH_SCALES ?? '1,10').split(',').map(Number);

const ROWS: { name: QueryName; label: string; goal?: number }[] = [
  { name: 'observation', label: '`Observation?patient=X&code=Y`', goal: 5 },
  { name: 'name', label: '`Patient?name=Z`', goal: 4 },
  { name: 'encounters', label: '`Encounter?patient=X&_sort=-date&_count=20`', goal: 5 },
  { name: 'none', label: '`Observation?patient=X&code=<none>` (matches nothing)', goal: 2 },
  { name: 'page20', label: '`Observation?patient=X&_count=20`' },
  { name: 'count', label: "the patient's own `Observation?_summary=count` (no `patient=`)" },
  { name: 'read', label: 'read by id' },
];

export const searchSection: BenchSection = {
  name: 'search',
  title: 'Search and read cost as the data grows',
  async run() {
    const levels = await benchSearch(SCALES);
    const [one] = levels as [SearchLevel];
    const ok = (value: boolean) => (value ? '✓' : '✗');
    const perResult = (l: SearchLevel) => (l.p50.page20 - l.p50.none) / Math.max(1, l.entries.page20);
    const ratio = (f: (l: SearchLevel) => number) =>
      levels
        .slice(1)
        .map((l) => `${(f(l) / f(one)).toFixed(2)}×`)
        .join(' / ');
    const head = `| | ${levels.map((l) => `${l.scale}×`).join(' | ')} | ${levels
      .slice(1)
      .map((l) => `${l.scale}× / 1×`)
      .join(' / ')} | goal at 1× |`;
    return [
      `One node (embedded anvil + PGlite) with the Synthea set imported (\`importFiles\`, as \`medledger import\`), then`,
      "other patients' charts (transaction Bundles of 1 Patient, 20 Observations sharing the probe's codes, 5 Encounters)",
      'imported until the vault holds 10× (and 100×) its record versions; anchoring drained before measuring. X = the',
      'Synthea patient with the most Observations, Y = their most frequent code, Z = their family name. Each query',
      `p50 over ${process.env.MEDLEDGER_SEARCH_SAMPLES ?? 200} requests at concurrency 1 over loopback, by a client in a process of its own, with`,
      "the institution's system token (treatment relationship: one access decision per patient, one audit event per request),",
      "the count with the patient's own token.",
      '',
      head,
      `|---|${levels.map(() => '---:').join('|')}|---:|---|`,
      `| record versions / index rows | ${levels.map((l) => `${l.resources.toLocaleString('en-US')} / ${l.indexRows.toLocaleString('en-US')}`).join(' | ')} | | |`,
      ...ROWS.map(
        (row) =>
          `| ${row.label}, p50 ms (${one.entries[row.name]} ${row.name === 'count' ? 'counted' : 'results'}) | ${levels.map((l) => l.p50[row.name].toFixed(2)).join(' | ')} | ${ratio((l) => l.p50[row.name])} | ${row.goal === undefined ? '' : `≤ ${row.goal} ms ${ok(one.p50[row.name] <= row.goal)}`} |`,
      ),
      `| each returned result adds (page of 20 − no match) / 20, ms | ${levels.map((l) => perResult(l).toFixed(2)).join(' | ')} | ${ratio(perResult)} | ≤ 0.2 ms ${ok(perResult(one) <= 0.2)} |`,
      `| CPU per read by id: node + database (one process) + chain, ms | ${levels.map((l) => `${l.readCpuMs.toFixed(2)} (${l.readNodeCpuMs.toFixed(2)} + ${l.readChainCpuMs.toFixed(2)})`).join(' | ')} | ${ratio((l) => l.readCpuMs)} | ≤ 2.5 ms ${ok(one.readCpuMs <= 2.5)} |`,
      '',
      'CPU per read = utime + stime from /proc/PID/stat of the node process (all threads; PGlite runs in it) and of the',
      'embedded anvil, over 1,000 reads by id, divided by 1,000: background work in that time (indexer polls, the anchoring',
      "of the reads' audit events) is counted, the client's is not. Selective searches are flat when the last columns stay",
      'within 1.3×.',
    ].join('\n');
  },
};
