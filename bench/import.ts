/**
 * EHR import throughput over the Synthea set (issue 6): `importFiles` on a node (validation,
 * encryption, commitment, search index, ledger, audit) against a plain bulk insert of the same
 * resources as jsonb (one transaction and one multi-row INSERT per file) into the same back end,
 * measured in the same run: embedded PGlite in a data directory, or the PostgreSQL server
 * (BENCH_DATABASE_URL, default the local test database; a schema of its own, dropped after).
 * Run: `node bin/run-ts.js bench/import.ts [pglite|postgres]`.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import { loadConfig } from '../src/config/config.ts';
import { stderrLogger } from '../src/config/logger.ts';
import { importFiles } from '../src/ehr/importFiles.ts';
import { insertIndexRowsSql } from '../src/fhir/search/writeSearchIndexMany.ts';
import { sharedDataDir } from '../src/fhir/testing/sharedData.ts';
import { validateResourceForWrite } from '../src/fhir/validateFhirResource.ts';
import { migrations } from '../src/node/migrations.ts';
import { startNode } from '../src/node/startNode.ts';
import { type Db, statement } from '../src/store/db.ts';
import { openDatabase } from '../src/store/openDatabase.ts';

export interface ImportBenchResult {
  resources: number;
  resourcesPerSec: number;
  plainInsertsPerSec: number;
  ratio: number;
  /** Mean µs of CPU to validate one resource of the set (the import's own validation, warmed, one thread). */
  validationUs: number;
  /** Search index rows the import wrote per resource. */
  indexRowsPerResource: number;
  /**
   * µs per resource to bulk-insert its index rows alone (the same (type, id, code) triples with
   * random values) into a copy of the index table and its indexes, one statement per 1/20th.
   */
  indexRowsUs: number;
}

const DATABASE_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export async function benchImport(
  backEnd: 'pglite' | 'postgres' = 'pglite',
  dir = sharedDataDir('synthea'),
): Promise<ImportBenchResult> {
  const root = await mkdtemp(join(tmpdir(), 'medledger-bench-import-'));
  const server = backEnd === 'postgres' ? await serverSchemas() : undefined;
  try {
    const plainInsertsPerSec = await plainInsert(
      dir,
      server ? { databaseUrl: DATABASE_URL, schema: server.plain } : { dataDir: join(root, 'plain') },
    );
    const config = loadConfig(
      {
        'data-dir': join(root, 'node'),
        ...(server ? { 'database-url': `${DATABASE_URL}?options=-c%20search_path%3D${server.node}` } : {}),
      },
      {},
    );
    const node = await startNode({ config, logger: stderrLogger({ quiet: true }), workers: false });
    try {
      const summary = await importFiles(node, [dir]);
      if (summary.failed > 0) throw new Error(`import failed for ${summary.failed} resources`);
      const index = await indexRowsCost(node.db);
      return {
        resources: summary.resources,
        resourcesPerSec: summary.resourcesPerSec,
        plainInsertsPerSec,
        ratio: summary.resourcesPerSec / plainInsertsPerSec,
        validationUs: await validationCost(dir),
        indexRowsPerResource: index.rows / summary.resources,
        indexRowsUs: (index.seconds * 1e6) / summary.resources,
      };
    } finally {
      await node.stop();
    }
  } finally {
    await server?.drop();
    await rm(root, { recursive: true, force: true });
  }
}

/** Two fresh schemas on the server (the node's and the plain table's); `drop` removes both. */
async function serverSchemas() {
  const suffix = randomBytes(4).toString('hex');
  const schemas = [`bench_import_${suffix}`, `bench_plain_${suffix}`] as const;
  const admin = async (sql: string) => {
    const client = new pg.Client({ connectionString: DATABASE_URL });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  };
  await admin(schemas.map((s) => `CREATE SCHEMA ${s};`).join(' '));
  return {
    node: schemas[0],
    plain: schemas[1],
    drop: () => admin(schemas.map((s) => `DROP SCHEMA IF EXISTS ${s} CASCADE;`).join(' ')),
  };
}

/** The search index rows the import wrote, inserted again with random values into a copy of the table. */
async function indexRowsCost(db: Db): Promise<{ rows: number; seconds: number }> {
  const triples = await db.query<{ resource_type: string; resource_id: string; code: string }>(
    'SELECT resource_type, resource_id, code FROM fhir_search_index',
  );
  await db.exec('CREATE TABLE bench_index_copy (LIKE fhir_search_index INCLUDING ALL)');
  const insert = statement(insertIndexRowsSql('bench_index_copy'));
  const size = Math.ceil(triples.length / 20);
  const start = performance.now();
  for (let from = 0; from < triples.length; from += size) {
    const part = triples.slice(from, from + size);
    await db.transaction((tx) =>
      tx.query(insert, [
        part.map((r) => r.resource_type),
        part.map((r) => r.resource_id),
        part.map((r) => r.code),
        randomBytes(part.length * 32),
      ]),
    );
  }
  const seconds = (performance.now() - start) / 1000;
  await db.exec('DROP TABLE bench_index_copy');
  return { rows: triples.length, seconds };
}

/**
 * What validating the set costs on one thread, every resource through the same function the
 * import uses (@medplum/core's validator plus medledger's write rules), after one pass to warm up.
 */
async function validationCost(dir: string): Promise<number> {
  const resources: unknown[] = [];
  for (const file of await bundleFiles(dir)) resources.push(...(await bundleResources(dir, file)));
  for (const resource of resources) validateResourceForWrite(resource);
  const start = process.cpuUsage();
  for (const resource of resources) {
    if (!validateResourceForWrite(resource).ok) throw new Error('a resource of the set does not validate');
  }
  const used = process.cpuUsage(start);
  return (used.user + used.system) / resources.length;
}

const bundleFiles = async (dir: string) => (await readdir(dir)).filter((f) => f.endsWith('.json')).sort();

async function bundleResources(dir: string, file: string): Promise<{ resourceType: string }[]> {
  const bundle = JSON.parse((await readFile(join(dir, file), 'utf8')).replace(/^\uFEFF/, '')) as {
    entry?: { resource?: { resourceType: string } }[];
  };
  return (bundle.entry ?? []).flatMap((e) => (e.resource ? [e.resource] : []));
}

async function plainInsert(
  dir: string,
  where: { dataDir: string } | { databaseUrl: string; schema: string },
): Promise<number> {
  const db = await openDatabase({ ...where, migrations });
  try {
    await db.exec(
      'CREATE TABLE plain_import (id bigserial PRIMARY KEY, resource_type text NOT NULL, body jsonb NOT NULL)',
    );
    const files = await bundleFiles(dir);
    let count = 0;
    const t0 = performance.now();
    for (const file of files) {
      const resources = await bundleResources(dir, file);
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
  const backEnd = process.argv[2] === 'postgres' ? 'postgres' : 'pglite';
  const r = await benchImport(backEnd);
  const f = (n: number) => Math.round(n).toLocaleString('en-US');
  process.stdout.write(
    `import of the Synthea set (${r.resources} resources, ${backEnd})\n` +
      `  medledger import: ${f(r.resourcesPerSec)} resources/s (goal ≥ 1,000)\n` +
      `  plain jsonb bulk insert: ${f(r.plainInsertsPerSec)} resources/s\n` +
      `  ratio ${r.ratio.toFixed(3)} (goal ≥ 0.333)\n` +
      `  validation alone: ${r.validationUs.toFixed(0)} µs of CPU per resource\n` +
      `  search index: ${r.indexRowsPerResource.toFixed(1)} rows per resource, ${r.indexRowsUs.toFixed(0)} µs per resource to insert them alone\n`,
  );
  process.exit(0);
}
