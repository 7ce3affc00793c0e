import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/config/config.ts';
import { formatImportSummary } from '../src/ehr/ImportSummary.ts';
import { importFiles } from '../src/ehr/importFiles.ts';
import { stderrLogger } from '../src/node/logger.ts';
import { startNode } from '../src/node/startNode.ts';

const dataDir = process.env.DIR ?? (await mkdtemp(join(tmpdir(), 'imp-')));
const config = loadConfig({ 'data-dir': dataDir }, {});
const node = await startNode({ config, logger: stderrLogger({ quiet: true }), workers: false });
const paths = process.argv.slice(2);
for (let run = 0; run < Number(process.env.RUNS ?? 1); run++) {
  const s = await importFiles(node, paths, {
    onProgress: (p) => process.stderr.write(`\r${p.done}/${p.total}`),
  });
  process.stderr.write('\n' + formatImportSummary({ ...s, claims: s.claims.slice(0, 2) }) + '\n');
}
await node.stop();
