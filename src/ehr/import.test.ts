import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../config/config.ts';
import { stderrLogger } from '../config/logger.ts';
import { sharedDataDir } from '../fhir/testing/sharedData.ts';
import { startTestNode, type TestNode } from '../fhir/testing/startTestNode.ts';
import { type RunningNode, startNode } from '../node/startNode.ts';
import type { Queryable } from '../store/db.ts';
import { seedDataDir } from '../store/testing/embeddedTemplate.ts';
import { importFiles } from './importFiles.ts';
import { expectedDistinctCounts } from './testing/expectedCounts.ts';

const synthea = () => sharedDataDir('synthea');
const jsonFiles = async (dir: string) =>
  (await readdir(dir)).filter((f) => f.endsWith('.json')).map((f) => join(dir, f));

async function storedCounts(q: Queryable): Promise<Record<string, number>> {
  const rows = await q.query<{ resource_type: string; n: number }>(
    'SELECT resource_type, count(DISTINCT resource_id)::int AS n FROM record_versions GROUP BY resource_type',
  );
  return Object.fromEntries(rows.map((r) => [r.resource_type, r.n]));
}

describe('medledger import of the Synthea set', () => {
  let t: TestNode;
  beforeAll(async () => {
    t = await startTestNode();
  });
  afterAll(async () => {
    await t?.stop();
  });

  it('imports every bundle in one call with the expected distinct resources per type', async () => {
    const expected = expectedDistinctCounts(await jsonFiles(synthea()));
    const summary = await importFiles(t.node, [synthea()]);
    expect(summary.failures).toEqual([]);
    expect(summary.files).toBe(20);
    expect(await storedCounts(t.node.db)).toEqual(expected);
    const created = Object.fromEntries(Object.entries(summary.byType).map(([type, c]) => [type, c.created]));
    expect(created).toEqual(expected);
    // Bundles that re-create an Organization or Practitioner already stored map to it instead.
    expect(summary.byType.Organization?.unchanged).toBeGreaterThan(0);
    expect(summary.claims).toHaveLength(18);
    expect(summary.claims[0]?.claimCode).toMatch(/^[A-Z0-9]{5}(-[A-Z0-9]{5}){3}$/);
  }, 240_000);

  it('a second run changes nothing', async () => {
    const before = await storedCounts(t.node.db);
    const summary = await importFiles(t.node, [synthea()]);
    expect(summary.created + summary.updated + summary.failed).toBe(0);
    expect(summary.unchanged).toBe(summary.resources);
    expect(summary.claims).toEqual([]);
    expect(await storedCounts(t.node.db)).toEqual(before);
  }, 60_000);
});

describe('medledger import, interrupted', () => {
  let dir: string;
  let node: RunningNode | undefined;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'medledger-import-'));
  });
  afterAll(async () => {
    await node?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('killed half-way, a re-run completes it with the same final counts', async () => {
    const input = join(dir, 'input');
    const dataDir = join(dir, 'data');
    await import('node:fs/promises').then((fs) => fs.mkdir(input));
    const picked = ['Chet_', 'Louis_', 'José_', 'Claudie_', 'Marcos_', 'Fabian_'];
    const files = (await jsonFiles(synthea())).filter((f) => picked.some((p) => f.includes(`/${p}`)));
    for (const f of files) await symlink(f, join(input, f.split('/').pop() as string));
    await seedDataDir(dataDir);
    const repo = resolve(import.meta.dirname, '../..');
    const child = spawn(
      process.execPath,
      [join(repo, 'bin/medledger.js'), 'import', input, '--data-dir', dataDir],
      {
        cwd: repo,
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    const exited = new Promise<void>((done) => child.on('exit', () => done()));
    let stderr = '';
    await new Promise<void>((done) => {
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        if ((stderr.match(/^imported \//gm) ?? []).length >= 2) {
          child.kill('SIGKILL');
          done();
        }
      });
      child.on('exit', () => done());
    });
    await exited;
    expect((stderr.match(/^imported \//gm) ?? []).length).toBeGreaterThanOrEqual(2);
    expect(stderr).not.toMatch(/imported .*Marcos|^imported \d+ resources from/m); // really interrupted

    const config = loadConfig({ 'data-dir': dataDir }, {});
    node = await startNode({
      config,
      logger: stderrLogger({ quiet: true }),
      workers: false,
      adoptRunningAnvil: true,
    });
    const [done] = await node.db.query<{ n: number }>('SELECT count(*)::int AS n FROM ehr_import_ledger');
    const summary = await importFiles(node, [input]);
    const expected = expectedDistinctCounts(files);
    const total = Object.values(expected).reduce((a, b) => a + b, 0);
    expect(done?.n).toBeGreaterThan(0);
    expect(summary.unchanged).toBeGreaterThanOrEqual(done?.n ?? 0);
    expect(summary.failed).toBe(0);
    expect(await storedCounts(node.db)).toEqual(expected);
    expect(summary.created).toBeLessThan(total);
  }, 120_000);
});
