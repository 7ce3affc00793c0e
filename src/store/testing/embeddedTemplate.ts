/**
 * One embedded database per test run, migrated once, that every test's new PGlite database starts
 * from (openDatabase's `embeddedTemplate`): PGlite's initdb and the migrations took 10-20 s per
 * node on a loaded two-core machine, and the suite starts about a hundred. The vitest global set-up
 * (test/support/globalSetup.ts) builds it from the current migration list and names the file in
 * MEDLEDGER_TEST_PGLITE_TEMPLATE; without it (a test run outside vitest's config) databases start
 * empty as in production.
 */
import { access, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { migrations } from '../../node/migrations.ts';
import { pgliteDb } from '../db.ts';
import { migrate } from '../migrate.ts';
import { openDatabase } from '../openDatabase.ts';

export const EMBEDDED_TEMPLATE_ENV = 'MEDLEDGER_TEST_PGLITE_TEMPLATE';

/** Writes a gzipped dump of a freshly migrated embedded database to `path`. */
export async function buildEmbeddedTemplate(path: string): Promise<void> {
  const pglite = await PGlite.create();
  const db = pgliteDb(pglite);
  try {
    await migrate(db, migrations);
    const dump = await pglite.dumpDataDir('gzip');
    await writeFile(path, Buffer.from(await dump.arrayBuffer()));
  } finally {
    await db.close();
  }
}

let loaded: Promise<Blob | undefined> | undefined;

/** The run's template, or undefined when no global set-up made one. */
export function embeddedTemplate(): Promise<Blob | undefined> {
  loaded ??= (async () => {
    const path = process.env[EMBEDDED_TEMPLATE_ENV];
    return path ? new Blob([await readFile(path)]) : undefined;
  })();
  return loaded;
}

/** openDatabase on a new in-memory embedded database, from the run's template. */
export async function openTestEmbedded() {
  return openDatabase({ migrations, dataDir: 'memory://', embeddedTemplate: await embeddedTemplate() });
}

/**
 * Puts the run's template into a new data directory's embedded database, so that a `medledger`
 * process started there skips initdb and the migrations, as if a node had started there before and
 * stopped. For tests about something else than a first start; a data directory that already holds
 * a database, or a run without a template, is left as it is.
 */
export async function seedDataDir(dataDir: string): Promise<void> {
  const template = await embeddedTemplate();
  if (!template) return;
  const exists = await access(join(dataDir, 'pgdata', 'PG_VERSION')).then(
    () => true,
    () => false,
  );
  if (exists) return;
  const db = await openDatabase({ migrations, dataDir, embeddedTemplate: template });
  await db.close();
}
