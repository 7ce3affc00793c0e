import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { TEST_DATABASE_URL } from '../src/store/testing/databases.ts';
import { killEmbeddedAnvil, startNodeProcess } from './support/nodeProcess.ts';

const run = promisify(execFile);

describe('medledger start with a PostgreSQL server', () => {
  const database = `medledger_${Date.now().toString(36)}`;
  const databaseUrl = TEST_DATABASE_URL.replace(/\/[^/]*$/, `/${database}`);
  let dataDir = '';

  afterAll(async () => {
    await killEmbeddedAnvil(dataDir);
    await rm(dataDir, { recursive: true, force: true });
    const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    await admin.end();
  });

  it('serves from the server database, and a CLI command beside it leaves the node and its chain running', async () => {
    const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${database}`);
    await admin.end();
    dataDir = await mkdtemp(join(tmpdir(), 'medledger-server-'));

    const node = await startNodeProcess(dataDir, { DATABASE_URL: databaseUrl });
    try {
      // The schema lives in the server database, not in a PGlite directory.
      const check = new pg.Client({ connectionString: databaseUrl });
      await check.connect();
      const tables = await check.query(
        "SELECT 1 FROM information_schema.tables WHERE table_name = 'record_versions'",
      );
      await check.end();
      expect(tables.rowCount).toBe(1);

      const { stdout } = await run('node', [
        'bin/medledger.js',
        'chain',
        'status',
        '--data-dir',
        dataDir,
        '--database-url',
        databaseUrl,
        '--json',
      ]);
      expect(JSON.parse(stdout)).toMatchObject({
        embedded: true,
        members: [expect.objectContaining({ active: true })],
      });

      const health = await fetch(`${node.url}/healthz`);
      expect(health.status).toBe(200);
      expect(await health.json()).toMatchObject({ ready: true, chain: 'ok', store: 'ok' });
    } finally {
      expect(await node.stop('SIGTERM')).toBe(0);
    }
  });
});
