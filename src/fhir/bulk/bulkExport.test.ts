import { createHash } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Resource } from '@medplum/fhirtypes';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUDIT_WRAPPED_KEYS } from '../../audit/auditWrappedKeys.ts';
import { importFiles } from '../../ehr/importFiles.ts';
import { expectedDistinctCounts } from '../../ehr/testing/expectedCounts.ts';
import { rotateKeys } from '../../vault/rotateKeys.ts';
import { RECORD_WRAPPED_KEYS } from '../../vault/wrappedKeyTables.ts';
import { compartmentPatients } from '../patientCompartment.ts';
import { canonicalJson } from '../testing/canonicalFhir.ts';
import { sharedDataDir } from '../testing/sharedData.ts';
import { startTestNode, type TestNode } from '../testing/startTestNode.ts';
import { fileHashesOf } from './exportAudit.ts';
import { AUDIT_EVENT_EXTENSION, type ExportManifest, SHA256_EXTENSION } from './exportManifest.ts';
import { BULK_EXPORT_WRAPPED_KEYS } from './exportWrappedKeys.ts';

// Two patients' bundles (self-contained: their Organizations and Practitioners are conditional creates);
// the 2,382-entry reference bundles would make the import the bulk of this test's time.
const PICKED = ['Chet_', 'Louis_'];
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
const contentHash = (resource: unknown) => sha256(Buffer.from(canonicalJson(resource)));

interface Exported {
  manifest: ExportManifest;
  files: Map<string, Buffer>;
  resources: Resource[];
  jobId: string;
}

describe('bulk $export (FHIR Bulk Data Access) of imported Synthea data', () => {
  let t: TestNode;
  let system: string;
  let files: string[];
  let stored: Resource[];
  const patients: string[] = [];

  const kickOff = (path: string, authorization: string, headers: Record<string, string> = {}) =>
    fetch(`${t.fhirUrl}/${path}`, {
      headers: { authorization, accept: 'application/fhir+json', prefer: 'respond-async', ...headers },
    });

  async function runExport(path: string, authorization: string): Promise<Exported> {
    const started = await kickOff(path, authorization);
    expect(started.status, await started.clone().text()).toBe(202);
    const status = started.headers.get('content-location') as string;
    expect(status).toMatch(/\/fhir\/\$export-status\/[0-9a-f]{32}$/);
    let manifest: ExportManifest | undefined;
    for (const deadline = Date.now() + 180_000; Date.now() < deadline; ) {
      const poll = await fetch(status, { headers: { authorization } });
      if (poll.status === 200) {
        manifest = (await poll.json()) as ExportManifest;
        break;
      }
      expect(poll.status, await poll.text()).toBe(202);
      expect(poll.headers.get('x-progress')).toBeTruthy();
      await new Promise((r) => setTimeout(r, 250));
    }
    if (!manifest) throw new Error(`export ${path} did not complete`);
    const downloaded = new Map<string, Buffer>();
    const resources: Resource[] = [];
    for (const item of [...manifest.output, ...manifest.error]) {
      const response = await fetch(item.url, {
        headers: { authorization, accept: 'application/fhir+ndjson' },
      });
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toMatch(/application\/fhir\+ndjson/);
      const bytes = Buffer.from(await response.arrayBuffer());
      downloaded.set(item.url, bytes);
      const lines = bytes.toString('utf8').trim().split('\n');
      expect(lines).toHaveLength(item.count);
      for (const line of lines) {
        const resource = JSON.parse(line) as Resource;
        expect(resource.resourceType).toBe(item.type);
        if (manifest.output.includes(item)) resources.push(resource);
      }
    }
    return { manifest, files: downloaded, resources, jobId: status.split('/').pop() as string };
  }

  const countByType = (resources: readonly Resource[]) => {
    const counts: Record<string, number> = {};
    for (const r of resources) counts[r.resourceType] = (counts[r.resourceType] ?? 0) + 1;
    return counts;
  };

  beforeAll(async () => {
    t = await startTestNode();
    const dir = sharedDataDir('synthea');
    files = (await readdir(dir))
      .filter((f) => f.endsWith('.json') && PICKED.some((p) => f.startsWith(p)))
      .map((f) => join(dir, f));
    expect(files).toHaveLength(2);
    const summary = await importFiles(t.node, files);
    expect(summary.failures).toEqual([]);
    // What the import stored: every resource it wrote, read back through the vault.
    const rows = await t.node.db.query<{ reference: string }>(
      'SELECT DISTINCT reference FROM ehr_import_ledger',
    );
    stored = [];
    for (const { reference } of rows) {
      const [type, id] = reference.split('/') as [string, string];
      stored.push((await t.node.vault.read(type, id)).resource as unknown as Resource);
    }
    for (const r of stored) if (r.resourceType === 'Patient') patients.push(r.id as string);
    expect(patients).toHaveLength(2);
    system = await t.bearer({ kind: 'system', scope: 'system/*.rs' });
  }, 300_000);

  afterAll(async () => {
    await t?.stop();
  });

  it('a system-level export returns exactly the imported resources (by content hash), with anchored file hashes', async () => {
    const { manifest, files: downloaded, resources, jobId } = await runExport('$export', system);
    expect(manifest.requiresAccessToken).toBe(true);
    expect(manifest.request).toBe(`${t.fhirUrl}/$export`);
    expect(Date.parse(manifest.transactionTime)).not.toBeNaN();
    expect(manifest.error).toEqual([]);
    expect(countByType(resources)).toEqual(expectedDistinctCounts(files));
    expect(resources.map(contentHash).sort()).toEqual(stored.map(contentHash).sort());

    // Each file's hash is in the manifest and in the anchored audit event it names.
    const auditUrl = manifest.extension[AUDIT_EVENT_EXTENSION];
    const auditId = /\/AuditEvent\/(\d+)$/.exec(auditUrl)?.[1] as string;
    expect(auditId).toBeDefined();
    const search = await fetch(`${t.fhirUrl}/AuditEvent?agent=test-client&action=E&_count=100`, {
      headers: { authorization: system },
    });
    expect(search.status).toBe(200);
    const events = (
      (await search.json()) as {
        entry: { resource: { id: string; entity: { what?: { reference?: string } }[] } }[];
      }
    ).entry.map((e) => e.resource);
    const event = events.find((e) => e.id === auditId);
    expect(event).toBeDefined();
    const anchored = fileHashesOf(event?.entity.map((e) => e.what?.reference ?? '') ?? []);
    const actual = new Map(
      [...manifest.output, ...manifest.error].map((item) => [
        item.url.split('/').pop() as string,
        sha256(downloaded.get(item.url) as Buffer),
      ]),
    );
    expect(anchored).toEqual(actual);
    for (const item of manifest.output)
      expect(item.extension[SHA256_EXTENSION]).toBe(sha256(downloaded.get(item.url) as Buffer));
    // Reading the manifest and each file are accesses of their own, each audited.
    const reads = await fetch(`${t.fhirUrl}/AuditEvent?agent=test-client&action=R&_count=200`, {
      headers: { authorization: system },
    });
    const readWhats = (
      (await reads.json()) as { entry: { resource: { entity?: { what?: { reference?: string } }[] } }[] }
    ).entry.flatMap((e) => (e.resource.entity ?? []).map((x) => x.what?.reference ?? ''));
    expect(readWhats).toContain(`urn:medledger:bulk-export:${jobId}:manifest`);
    for (const item of manifest.output)
      expect(readWhats).toContain(`urn:medledger:bulk-export:${jobId}/${item.url.split('/').pop()}`);
    const proof = await fetch(`${t.fhirUrl}/AuditEvent/${auditId}/$proof`, {
      headers: { authorization: system },
    });
    expect(proof.status).toBe(200);
    expect(JSON.stringify(await proof.json())).toContain('"leaf"');

    // At rest the files are ciphertext: no patient's family name appears in them.
    const family = (stored.find((r) => r.resourceType === 'Patient') as { name: { family: string }[] })
      .name[0]?.family as string;
    expect(resources.some((r) => JSON.stringify(r).includes(family))).toBe(true);
    const [hit] = await t.node.db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM bulk_export_files WHERE position(convert_to($1, 'UTF8') IN ciphertext) > 0",
      [family],
    );
    expect(hit?.n).toBe(0);
  }, 300_000);

  it('_type limits the export to the named types', async () => {
    const { resources } = await runExport('$export?_type=Patient,Condition', system);
    const expected = expectedDistinctCounts(files);
    expect(countByType(resources)).toEqual({ Patient: expected.Patient, Condition: expected.Condition });
  }, 180_000);

  it('_since returns only what changed after it', async () => {
    const since = new Date().toISOString();
    const observation = stored.find((r) => r.resourceType === 'Observation') as Resource;
    const changed = { ...observation, status: 'amended' };
    const put = await fetch(`${t.fhirUrl}/Observation/${observation.id}`, {
      method: 'PUT',
      headers: {
        authorization: await t.bearer({ kind: 'system', scope: 'system/*.cruds' }),
        'content-type': 'application/fhir+json',
      },
      body: JSON.stringify(changed),
    });
    expect(put.status).toBe(200);
    const { resources } = await runExport(`$export?_since=${encodeURIComponent(since)}`, system);
    expect(resources.map((r) => `${r.resourceType}/${r.id}`)).toEqual([`Observation/${observation.id}`]);
    expect((resources[0] as { status: string }).status).toBe('amended');
  }, 180_000);

  it("a patient's token exports only that patient's compartment, and cannot see another's job", async () => {
    const [mine, other] = patients as [string, string];
    const token = await t.bearer({ kind: 'patient', scope: 'patient/*.rs', patient: mine, subject: 'chet' });
    const { resources } = await runExport('Patient/$export', token);
    const all = (await runExport('Patient/$export', system)).resources;
    const expected = all.filter((r) => compartmentPatients(r).includes(mine));
    expect(resources.length).toBeGreaterThan(10);
    expect(resources.map(contentHash).sort()).toEqual(expected.map(contentHash).sort());
    expect(resources.every((r) => compartmentPatients(r).includes(mine))).toBe(true);
    expect(all.some((r) => compartmentPatients(r).includes(other))).toBe(true);

    const started = await kickOff('Patient/$export', system);
    const status = started.headers.get('content-location') as string;
    expect((await fetch(status, { headers: { authorization: token } })).status).toBe(404);
  }, 240_000);

  it('another member without consent gets nothing; a Group export is limited to its members', async () => {
    const member = privateKeyToAccount(generatePrivateKey()).address.toLowerCase();
    const outsider = await t.bearer({
      kind: 'system',
      scope: 'system/*.rs',
      address: member,
      internal: false,
    });
    const refused = await runExport('Patient/$export', outsider);
    expect(refused.manifest.output).toEqual([]);

    const writer = await t.bearer({ kind: 'system', scope: 'system/*.cruds' });
    const created = await fetch(`${t.fhirUrl}/Group`, {
      method: 'POST',
      headers: { authorization: writer, 'content-type': 'application/fhir+json' },
      body: JSON.stringify({
        resourceType: 'Group',
        type: 'person',
        actual: true,
        member: [{ entity: { reference: `Patient/${patients[1]}` } }],
      }),
    });
    expect(created.status).toBe(201);
    const group = (await created.json()) as Resource;
    const { resources } = await runExport(`Group/${group.id}/$export`, system);
    expect(resources.length).toBeGreaterThan(10);
    expect(resources.every((r) => compartmentPatients(r).includes(patients[1] as string))).toBe(true);
    expect((await kickOff('Group/no-such-group/$export', system)).status).toBe(404);
  }, 240_000);

  it('refuses a kick-off without Prefer: respond-async or with another format; DELETE cancels', async () => {
    const metadata = (await (await fetch(`${t.fhirUrl}/metadata`)).json()) as {
      rest: {
        operation?: { name: string }[];
        resource: { type: string; operation?: { name: string }[] }[];
      }[];
    };
    expect(metadata.rest[0]?.operation?.map((o) => o.name)).toContain('export');
    for (const type of ['Patient', 'Group'])
      expect(
        metadata.rest[0]?.resource.find((r) => r.type === type)?.operation?.map((o) => o.name),
      ).toContain('export');
    const noPrefer = await fetch(`${t.fhirUrl}/$export`, { headers: { authorization: system } });
    expect(noPrefer.status).toBe(400);
    expect(((await noPrefer.json()) as Resource).resourceType).toBe('OperationOutcome');
    expect((await kickOff('$export?_outputFormat=text/csv', system)).status).toBe(400);
    expect((await kickOff('$export?_type=NotAType', system)).status).toBe(400);
    expect((await kickOff('$export', 'Bearer nonsense')).status).toBe(401);

    const started = await kickOff('$export', system);
    const status = started.headers.get('content-location') as string;
    const cancelled = await fetch(status, { method: 'DELETE', headers: { authorization: system } });
    expect(cancelled.status).toBe(202);
    expect((await fetch(status, { headers: { authorization: system } })).status).toBe(404);
  }, 120_000);
  it('export files stay readable after a key rotation that includes their tables', async () => {
    const { manifest, files: before } = await runExport('$export?_type=Patient', system);
    const result = await rotateKeys(t.node.db, t.node.keyring, {
      tables: [RECORD_WRAPPED_KEYS, ...AUDIT_WRAPPED_KEYS, ...BULK_EXPORT_WRAPPED_KEYS],
    });
    expect(result.failed).toBe(0);
    expect(result.retired.length).toBeGreaterThan(0); // the old KEK is gone
    for (const item of manifest.output) {
      const response = await fetch(item.url, { headers: { authorization: system } });
      expect(response.status).toBe(200);
      expect(sha256(Buffer.from(await response.arrayBuffer()))).toBe(sha256(before.get(item.url) as Buffer));
    }
  }, 180_000);
});

describe('bulk $export results expire', () => {
  let t: TestNode;
  beforeAll(async () => {
    t = await startTestNode({ env: { MEDLEDGER_EXPORT_RETENTION_SECONDS: '5' } });
  });
  afterAll(async () => t?.stop());

  it('the status response says when the files go (Expires), and after that they are gone', async () => {
    const authorization = await t.bearer({ kind: 'system', scope: 'system/*.rs' });
    const created = await fetch(`${t.fhirUrl}/Patient`, {
      method: 'POST',
      headers: {
        authorization: await t.bearer({ kind: 'system', scope: 'system/*.cruds' }),
        'content-type': 'application/fhir+json',
      },
      body: JSON.stringify({ resourceType: 'Patient', name: [{ family: 'Expiring' }] }),
    });
    expect(created.status).toBe(201);
    const started = await fetch(`${t.fhirUrl}/$export?_type=Patient`, {
      headers: { authorization, accept: 'application/fhir+json', prefer: 'respond-async' },
    });
    expect(started.status).toBe(202);
    const status = started.headers.get('content-location') as string;
    let poll = await fetch(status, { headers: { authorization } });
    for (const deadline = Date.now() + 60_000; poll.status === 202 && Date.now() < deadline; ) {
      await new Promise((r) => setTimeout(r, 100));
      poll = await fetch(status, { headers: { authorization } });
    }
    expect(poll.status).toBe(200);
    const expires = Date.parse(poll.headers.get('expires') ?? '');
    const delay = expires - Date.now();
    expect(delay).toBeGreaterThan(0);
    expect(delay).toBeLessThanOrEqual(5_000);
    const manifest = (await poll.json()) as ExportManifest;
    const file = manifest.output[0]!.url;
    expect((await fetch(file, { headers: { authorization } })).status).toBe(200);
    await expect
      .poll(async () => (await fetch(status, { headers: { authorization } })).status, {
        timeout: 15_000,
        interval: 250,
      })
      .toBe(404);
    expect(Date.now()).toBeGreaterThanOrEqual(expires);
    expect((await fetch(file, { headers: { authorization } })).status).toBe(404);
    expect(await t.countRows('bulk_export_files')).toBe(0);
  });
});
