/**
 * EHR import throughput over the Synthea set (issue 6): `importFiles` on an embedded node
 * (PGlite; validation, encryption, commitment, search index, ledger, audit) against a plain bulk
 * insert of the same resources as jsonb into PostgreSQL (PGlite in a data directory, one
 * transaction and one multi-row INSERT per file), measured in the same run.
 * Run: `node bin/run-ts.js bench/import.ts`.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { loadConfig } from '../src/config/config.ts';
import { importFiles } from '../src/ehr/importFiles.ts';
import { sharedDataDir } from '../src/fhir/testing/sharedData.ts';
import { stderrLogger } from '../src/node/logger.ts';
import { startNode } from '../src/node/startNode.ts';
import { openDatabase } from '../src/store/openDatabase.ts';

export interface ImportBenchResult {
  resources: number;
  resourcesPerSec: number;
  plainInsertsPerSec: number;
  ratio: number;
}

export async function benchImport(dir = sharedDataDir('synthea')): Promise<ImportBenchResult> {
  const root = await mkdtemp(join(tmpdir(), 'medledger-bench-import-'));
  try {
    const plainInsertsPerSec = await plainInsert(dir, join(root, 'plain'));
    const config = loadConfig({ 'data-dir': join(root, 'node') }, {});
    const node = await startNode({ config, logger: stderrLogger({ quiet: true }), workers: false });
    try {
      const summary = await importFiles(node, [dir]);
      if (summary.failed > 0) throw new Error(`import failed for ${summary.failed} resources`);
      return {
        resources: summary.resources,
        resourcesPerSec: summary.resourcesPerSec,
        plainInsertsPerSec,
        ratio: summary.resourcesPerSec / plainInsertsPerSec,
      };
    } finally {
      await node.stop();
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

async function plainInsert(dir: string, dataDir: string): Promise<number> {
  const db = await openDatabase({ databaseUrl: undefined, dataDir });
  try {
    await db.exec(
      'CREATE TABLE plain_import (id bigserial PRIMARY KEY, resource_type text NOT NULL, body jsonb NOT NULL)',
    );
    const files = (await readdir(dir)).filter((f) => f.endsWith('.json')).sort();
    let count = 0;
    const t0 = performance.now();
    for (const file of files) {
      const bundle = JSON.parse((await readFile(join(dir, file), 'utf8')).replace(/^\uFEFF/, '')) as {
        entry?: { resource?: { resourceType: string } }[];
      };
      const resources = (bundle.entry ?? []).flatMap((e) => (e.resource ? [e.resource] : []));
      await db.transaction((tx) =>
        tx.query(
          `INSERT INTO plain_import (resource_type, body)
           SELECT r->>'resourceType', r FROM jsonb_array_elements($1::jsonb) AS r`,
          [JSON.stringify(resources)],
        ),
      );
      count += resources.length;
    }
    return count / ((performance.now() - t0) / 1000);
  } finally {
    await db.close();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const r = await benchImport();
  const f = (n: number) => Math.round(n).toLocaleString('en-US');
  process.stdout.write(
    `import of the Synthea set (${r.resources} resources, PGlite)\n` +
      `  medledger import: ${f(r.resourcesPerSec)} resources/s (goal ≥ 1,000)\n` +
      `  plain jsonb bulk insert: ${f(r.plainInsertsPerSec)} resources/s\n` +
      `  ratio ${r.ratio.toFixed(3)} (goal ≥ 0.333)\n`,
  );
  process.exit(0);
}
