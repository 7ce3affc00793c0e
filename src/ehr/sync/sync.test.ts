import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { Bundle, Resource } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditContextOf } from '../../audit/AuditContext.ts';
import { searchAuditEvents } from '../../audit/searchAuditEvents.ts';
import { clientCreateCommand } from '../../cli/commands/clientCreate.ts';
import { canonicalJson } from '../../fhir/testing/canonicalFhir.ts';
import { sharedDataDir } from '../../fhir/testing/sharedData.ts';
import { startTestNode, type TestNode } from '../../fhir/testing/startTestNode.ts';
import { seedDataDir } from '../../store/testing/embeddedTemplate.ts';
import { sourceAuthorization } from './sourceAuthorization.ts';
import { syncFromSource } from './syncFromSource.ts';
import { type MedplumSourceServer, startMedplumSourceServer } from './testing/medplumSourceServer.ts';

const PICKED = ['Chet_', 'Louis_'];

async function storedCounts(t: TestNode): Promise<Record<string, number>> {
  const rows = await t.node.db.query<{ resource_type: string; n: number }>(
    'SELECT resource_type, count(DISTINCT resource_id)::int AS n FROM record_versions GROUP BY resource_type',
  );
  return Object.fromEntries(rows.map((r) => [r.resource_type, r.n]));
}

function countByType(resources: readonly Resource[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of resources) counts[r.resourceType] = (counts[r.resourceType] ?? 0) + 1;
  return counts;
}

describe('medledger sync from a FHIR server that is not medledger (Medplum in-memory, over HTTP)', () => {
  let source: MedplumSourceServer;
  let t: TestNode;
  let loaded: Resource[];
  const auth = () => ({ kind: 'bearer' as const, token: source.token });

  beforeAll(async () => {
    source = await startMedplumSourceServer();
    const dir = sharedDataDir('synthea');
    const files = (await readdir(dir)).filter((f) => PICKED.some((p) => f.startsWith(p)));
    expect(files).toHaveLength(2);
    loaded = [];
    for (const f of files) {
      const bundle = JSON.parse((await readFile(join(dir, f), 'utf8')).replace(/^\uFEFF/, '')) as Bundle;
      loaded.push(...(await source.load(bundle)));
    }
    expect(loaded.length).toBeGreaterThan(200);
    t = await startTestNode();
  }, 180_000);

  afterAll(async () => {
    await t?.stop();
    await source?.close();
  });

  it('the first sync pulls everything, page by page, through the import path', async () => {
    const summary = await syncFromSource(t.node, { from: `${source.baseUrl}/`, auth: auth(), pageSize: 50 });
    expect(summary.failures).toEqual([]);
    expect(summary.since).toBeNull();
    expect(summary.fetched).toBe(loaded.length);
    expect(summary.created).toBe(loaded.length);
    expect(summary.types).toEqual(await source.types());
    expect(summary.pages).toBeGreaterThan(summary.types.length); // `next` links were followed
    expect(source.requests.some((r) => r.includes('_offset=50'))).toBe(true);
    expect(await storedCounts(t)).toEqual(countByType(loaded));
    // Same ids, same content (encrypted in the vault, read back verified).
    for (const r of loaded.filter((x) => x.resourceType === 'Patient' || x.resourceType === 'Encounter')) {
      const here = (await t.node.vault.read(r.resourceType, r.id as string)).resource;
      expect(canonicalJson(here)).toBe(canonicalJson(r));
    }
    // One audit event per page written, by the sync operator.
    const [audited] = await t.node.db.query<{ n: number }>('SELECT count(*)::int AS n FROM audit_events');
    expect(audited?.n).toBeGreaterThanOrEqual(summary.pages);
    expect(summary.highWater).toBe(
      loaded
        .map((r) => r.meta?.lastUpdated as string)
        .sort((a, b) => Date.parse(a) - Date.parse(b))
        .pop(),
    );
  }, 240_000);

  it('a second sync without changes writes nothing', async () => {
    const before = await storedCounts(t);
    const summary = await syncFromSource(t.node, { from: source.baseUrl, auth: auth(), pageSize: 50 });
    expect(summary.since).not.toBeNull();
    expect(summary.created + summary.updated + summary.failed).toBe(0);
    expect(summary.fetched).toBeLessThan(loaded.length);
    expect(await storedCounts(t)).toEqual(before);
  }, 120_000);

  it('after a change and an addition on the source, the next sync pulls only those', async () => {
    const observation = loaded.find((r) => r.resourceType === 'Observation') as Resource;
    await new Promise((r) => setTimeout(r, 5)); // a later millisecond than the load
    const changed = await source.repo.updateResource({ ...observation, status: 'amended' } as Resource);
    const patient = loaded.find((r) => r.resourceType === 'Patient') as Resource;
    const added = await source.repo.createResource({
      resourceType: 'Condition',
      subject: { reference: `Patient/${patient.id}` },
      code: { text: 'synced condition' },
    } as Resource);
    const before = await storedCounts(t);
    const summary = await syncFromSource(t.node, { from: source.baseUrl, auth: auth(), pageSize: 50 });
    expect(summary.failures).toEqual([]);
    expect(summary.created).toBe(1);
    expect(summary.updated).toBe(1);
    // Besides the two changes, only what sits at the mark's own instant is asked again (`ge`), and skipped.
    const atMark = loaded.filter((r) => r.meta?.lastUpdated === summary.since && r.id !== observation.id);
    expect(summary.fetched).toBe(2 + atMark.length);
    expect(summary.unchanged).toBe(atMark.length);
    expect(summary.byType.Observation?.updated).toBe(1);
    expect(summary.byType.Condition?.created).toBe(1);
    expect(await storedCounts(t)).toEqual({ ...before, Condition: (before.Condition ?? 0) + 1 });
    const here = await t.node.vault.read('Observation', changed.id);
    expect((here.resource as { status?: string }).status).toBe('amended');
    expect(here.versionId).toBe(2);
    expect((await t.node.vault.read('Condition', added.id)).resource.id).toBe(added.id);
  }, 120_000);

  it('what the source deleted is deleted here (a deleted version, audited), once', async () => {
    const observation = loaded.find((r) => r.resourceType === 'Observation') as Resource;
    const encounter = loaded.find((r) => r.resourceType === 'Encounter') as Resource;
    await source.repo.deleteResource('Observation', observation.id as string);
    await source.repo.deleteResource('Encounter', encounter.id as string);
    const summary = await syncFromSource(t.node, { from: source.baseUrl, auth: auth(), pageSize: 50 });
    expect(summary.failures).toEqual([]);
    expect(summary.deletionsUnchecked).toEqual([]);
    expect(summary.deletedByType).toEqual({ Observation: 1, Encounter: 1 });
    expect(summary.deleted).toBe(2);
    await expect(t.node.vault.read('Observation', observation.id as string)).rejects.toMatchObject({
      code: 'ERR_GONE',
    });
    await expect(t.node.vault.read('Encounter', encounter.id as string)).rejects.toMatchObject({
      code: 'ERR_GONE',
    });
    // Everything else the source still holds is still here.
    const other = loaded.find((r) => r.resourceType === 'Observation' && r.id !== observation.id) as Resource;
    expect((await t.node.vault.read('Observation', other.id as string)).resource.id).toBe(other.id);
    // Each deletion is in its patient's audit trail (what the access report and AuditEvent?patient= read).
    const names = (e: { entity: Record<string, unknown>[] }, reference: string) =>
      e.entity.some((x) => (x.what as { reference?: string } | undefined)?.reference === reference);
    for (const deleted of [observation, encounter]) {
      const patient = (deleted as { subject?: { reference?: string } }).subject?.reference as string;
      expect(patient).toMatch(/^Patient\//);
      const trail = await searchAuditEvents(auditContextOf(t.node), { patient, _count: 1000 });
      const deletions = trail.resources.filter(
        (e) => e.action === 'D' && names(e, `${deleted.resourceType}/${deleted.id}`),
      );
      expect(deletions).toHaveLength(1);
      expect(names(deletions[0]!, patient)).toBe(true);
    }
    const again = await syncFromSource(t.node, { from: source.baseUrl, auth: auth(), pageSize: 50 });
    expect(again.deleted).toBe(0);
  }, 120_000);

  it('a wrong token is refused by the source and moves no mark', async () => {
    const [before] = await t.node.db.query<{ high_water: string }>('SELECT high_water FROM ehr_sync_sources');
    await expect(
      syncFromSource(t.node, { from: source.baseUrl, auth: { kind: 'bearer', token: 'wrong' } }),
    ).rejects.toMatchObject({ code: 'ERR_SYNC_SOURCE' });
    const [after] = await t.node.db.query<{ high_water: string }>('SELECT high_water FROM ehr_sync_sources');
    expect(after?.high_water).toBe(before?.high_water);
  }, 60_000);
  it('authenticates with SMART Backend Services (client_credentials, private_key_jwt) when asked', async () => {
    // The token endpoint here is the test node's own SMART authorization server.
    const created = await clientCreateCommand.run(t.node, {
      values: { name: 'sync-client', scope: 'system/*.rs', 'generate-key': true },
      positionals: [],
    });
    const client = created.json as { client_id: string; private_jwk: unknown; token_endpoint: string };
    const keyFile = join(await mkdtemp(join(tmpdir(), 'medledger-key-')), 'key.json');
    await writeFile(keyFile, JSON.stringify(client.private_jwk), { mode: 0o600 });
    const authorize = sourceAuthorization({
      kind: 'backend',
      clientId: client.client_id,
      privateKeyFile: keyFile,
      tokenUrl: client.token_endpoint,
      scope: 'system/Patient.rs',
    });
    const authorization = (await authorize()) as string;
    expect(authorization).toMatch(/^Bearer \S+$/);
    expect(await authorize()).toBe(authorization); // reused until it nears expiry
    const read = await fetch(`${t.fhirUrl}/Patient?_count=1`, { headers: { authorization } });
    expect(read.status).toBe(200);
    await rm(dirname(keyFile), { recursive: true, force: true });
  }, 60_000);
});

describe('medledger sync --interval (CLI)', () => {
  let source: MedplumSourceServer;
  let dir: string;
  beforeAll(async () => {
    source = await startMedplumSourceServer();
    dir = await mkdtemp(join(tmpdir(), 'medledger-sync-'));
    const synthea = sharedDataDir('synthea');
    const file = (await readdir(synthea)).find((f) => f.startsWith('Chet_')) as string;
    await source.load(JSON.parse(await readFile(join(synthea, file), 'utf8')) as Bundle);
  }, 60_000);
  afterAll(async () => {
    await source?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('runs on an interval, picks up a later change, and stops cleanly on SIGTERM with one JSON document', async () => {
    const repo = resolve(import.meta.dirname, '../../..');
    await seedDataDir(join(dir, 'data'));
    const child = spawn(
      process.execPath,
      [
        join(repo, 'bin/medledger.js'),
        'sync',
        '--from',
        source.baseUrl,
        '--auth',
        `bearer:${source.token}`,
        '--types',
        'Patient,Condition',
        '--interval',
        '1',
        '--json',
        '--data-dir',
        join(dir, 'data'),
      ],
      { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
    });
    const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
    const waitFor = (pattern: RegExp) =>
      new Promise<void>((done, fail) => {
        const check = () => pattern.test(stderr) && done();
        child.stderr.on('data', (c: Buffer) => {
          stderr += c.toString();
          check();
        });
        child.on('exit', () => fail(new Error(`exited early: ${stderr}`)));
        check();
      });
    await waitFor(/created [1-9]\d*, updated 0/);
    const patient = (await source.repo.search({ resourceType: 'Patient' })).entry?.[0]?.resource as Resource;
    await source.repo.createResource({
      resourceType: 'Condition',
      subject: { reference: `Patient/${patient.id}` },
      code: { text: 'added while syncing' },
    } as Resource);
    await waitFor(/created 1, updated 0, unchanged \d+, failed 0/);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    const result = JSON.parse(stdout) as { runs: { created: number; failed: number }[] };
    expect(result.runs.length).toBeGreaterThanOrEqual(2);
    expect(result.runs.every((r) => r.failed === 0)).toBe(true);
    expect(result.runs.reduce((n, r) => n + r.created, 0)).toBe(
      ((await source.repo.search({ resourceType: 'Condition' })).entry?.length ?? 0) + 1,
    );
    expect(stderr).toMatch(/sync stopped after \d+ runs/);
  }, 180_000);
});
