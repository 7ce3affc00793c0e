/**
 * A patient's check of an access report: the bundle from `accessReport` verifies with the viem-only
 * checker against a real chain, and any edit to an event, a proof or a root in the JSON is caught.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accessReport } from '../audit/accessReport.ts';
import { auditEventProof } from '../audit/auditEventProof.ts';
import { recordVersionProof } from '../audit/recordVersionProof.ts';
import { searchAuditEvents } from '../audit/searchAuditEvents.ts';
import { openTestAudit, sampleAuditEvent, type TestAudit } from '../audit/testing/openTestAudit.ts';
import { verifyCommand } from '../cli/commands/verify.ts';
import type { NodeContext } from '../context/NodeContext.ts';
import { testDatabases } from '../store/testing/databases.ts';
import { contractRootSource } from '../vault/contractRootSource.ts';
import { type AnvilAnchors, startAnvilAnchors } from '../vault/testing/anvilAnchors.ts';
import { openTestVault, type TestVault } from '../vault/testing/openTestVault.ts';
import { standaloneReportCheck } from './standaloneReportCheck.ts';
import { anchorPendingBatches } from './testing/anchorPendingBatches.ts';

let chain: AnvilAnchors;
let rpcUrl: string;
beforeAll(async () => {
  chain = await startAnvilAnchors();
  rpcUrl = chain.publicClient.transport.url as string;
});
afterAll(async () => {
  await chain?.stop();
});

describe.each(testDatabases)('access report on $name', (database) => {
  let vault: TestVault;
  let audit: TestAudit;
  let observationId: string;

  beforeAll(async () => {
    const addresses = await chain.deploy();
    const member = chain.walletClient.account.address;
    vault = await openTestVault(database, { batcher: { maxLeaves: 1000, maxDelayMs: 600_000 } });
    audit = await openTestAudit(database, {
      db: vault.db,
      dataDir: vault.dataDir,
      rootSource: contractRootSource({
        publicClient: chain.publicClient,
        anchors: addresses.anchors,
        member,
      }),
      anchoring: { anchors: addresses.anchors, member, chainId: addresses.chainId, rpcUrl },
    });
    observationId = (await vault.vault.create({ resourceType: 'Observation', status: 'final' })).resource.id;
    await audit.sink.appendMany([
      sampleAuditEvent('Patient/alice'),
      sampleAuditEvent('Patient/bob'),
      sampleAuditEvent('Patient/alice', {
        outcome: '4',
        outcomeDesc: 'no consent',
        agent: { clientId: 'snoop' },
      }),
    ]);
    await audit.batcher.flush();
    await audit.sink.append(sampleAuditEvent('Patient/alice', { recorded: '2020-01-01T00:00:00.000Z' }));
    await audit.batcher.flush();
    await vault.batcher.flush();
    await anchorPendingBatches(vault.db, chain, addresses);
    await audit.sink.append(sampleAuditEvent('Patient/alice'));
  });
  afterAll(async () => {
    await audit?.sink.flush();
    await audit?.batcher.stop();
    await vault?.close();
  });

  it('a report verifies with viem and the JSON alone, and reading it is audited', async () => {
    const report = await accessReport(audit.ctx, { patientId: 'alice', agent: { user: 'alice' } });
    expect(report.entry.map((e) => e.resource.id)).toEqual(['1', '3', '4', '5']);
    const result = await standaloneReportCheck(JSON.parse(JSON.stringify(report)));
    expect(result).toMatchObject({ ok: true, verified: 3, pending: 1, failed: 0, chainId: 31337 });
    const after = await searchAuditEvents(audit.ctx, { patient: 'Patient/alice', _count: 1 });
    expect(after.resources[0]?.subtype[0]?.code).toBe('operation');
    expect(
      after.resources[0]?.entity.map((e) => (e.what as { reference?: string } | undefined)?.reference),
    ).toContain('Patient/alice/$access-report');
  });

  it('an edited event, proof or root in the report fails the check', async () => {
    const report = await accessReport(audit.ctx, { patientId: 'Patient/alice', start: '2021' });
    expect(report.entry.map((e) => e.resource.id)).toEqual(['1', '3', '5', '6']);
    const edited = JSON.parse(JSON.stringify(report));
    edited.entry[1].resource.outcome = '0';
    const proof = edited.entry[0].extension[0].extension as { url: string; valueString?: string }[];
    const sibling = proof.find((e) => e.url === 'proof')!;
    sibling.valueString = `0x${'00'.repeat(32)}`;
    const result = await standaloneReportCheck(edited, { rpcUrl });
    expect(result.ok).toBe(false);
    expect(result.entries[0]?.problems).toContain('the Merkle proof does not lead to the root');
    expect(result.entries[1]?.problems).toContain('the event content does not match its commitment');
    expect(result.entries[2]?.status).toBe('pending');
  });

  it('medledger verify --bundle checks a saved report with no database (exit 0, then 1 when edited)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'medledger-report-'));
    const report = await accessReport(audit.ctx, { patientId: 'bob' });
    const file = join(dir, 'report.json');
    await writeFile(file, JSON.stringify(report));
    const noNode = {} as NodeContext;
    const ok = await verifyCommand.run(noNode, { values: { bundle: file }, positionals: [] });
    expect(ok.exitCode).toBe(0);
    report.entry[0]!.resource.outcomeDesc = 'nothing to see';
    await writeFile(file, JSON.stringify(report));
    const bad = await verifyCommand.run(noNode, {
      values: { bundle: file, 'rpc-url': rpcUrl },
      positionals: [],
    });
    expect(bad.exitCode).toBe(1);
    expect(bad.text).toMatch(/AuditEvent\/2: the event content does not match its commitment/);
    const missing = await verifyCommand.run(noNode, {
      values: { bundle: join(dir, 'nope.json') },
      positionals: [],
    });
    expect(missing.exitCode).toBe(2);
  });

  it('search finds events by patient, agent, outcome and date, newest first, decrypted', async () => {
    const denied = await searchAuditEvents(audit.ctx, { patient: 'alice', outcome: '4' });
    expect(denied.resources.map((r) => r.id)).toEqual(['3']);
    const byAgent = await searchAuditEvents(audit.ctx, { agent: 'snoop' });
    expect(byAgent.resources.map((r) => r.id)).toEqual(['3']);
    const byAddress = await searchAuditEvents(audit.ctx, {
      agent: '0x00000000000000000000000000000000000000bb',
      _count: 2,
    });
    expect(byAddress).toMatchObject({ hasMore: true });
    expect(byAddress.resources).toHaveLength(2);
    const old = await searchAuditEvents(audit.ctx, { date: ['ge2019', 'lt2021-01-01'] });
    expect(old.resources.map((r) => [r.id, r.recorded])).toEqual([['4', '2020-01-01T00:00:00.000Z']]);
    await expect(searchAuditEvents(audit.ctx, { _count: 0 })).rejects.toMatchObject({
      code: 'ERR_INVALID_AUDIT_QUERY',
    });
  });

  it('proofs of an audit event and a record version name the anchoring transaction; a new event is pending', async () => {
    const anchored = await auditEventProof(audit.ctx, '1');
    expect(anchored.proof).toMatchObject({
      status: 'anchored',
      pending: false,
      batchSequence: '0',
      batchIndex: 0,
    });
    expect(anchored.proof.txHash).toMatch(/^0x[0-9a-f]{64}$/);
    expect(anchored.parameters).toMatchObject({ resourceType: 'Parameters' });
    const pending = await auditEventProof(audit.ctx, '5');
    expect(pending.proof).toMatchObject({ status: 'unbatched', pending: true });
    const record = await recordVersionProof(audit.ctx, vault.vault.reader(), 'Observation', observationId, 1);
    expect(record.proof).toMatchObject({ status: 'anchored', kind: 0, batchSequence: '0' });
    await expect(auditEventProof(audit.ctx, '999')).rejects.toMatchObject({ code: 'ERR_NOT_FOUND' });
  });

  it('a tampered event fails the search with ERR_INTEGRITY and raises an alert', async () => {
    await vault.db.transaction(async (tx) => {
      await tx.query('ALTER TABLE audit_events DISABLE TRIGGER USER');
      await tx.query("UPDATE audit_events SET content_commitment = '\\x00'::bytea WHERE seq = 2");
      await tx.query('ALTER TABLE audit_events ENABLE TRIGGER USER');
    });
    await expect(searchAuditEvents(audit.ctx, { patient: 'bob' })).rejects.toMatchObject({
      code: 'ERR_INTEGRITY',
    });
    const [alert] = await vault.db.query<{ resource_id: string; detail: string }>(
      "SELECT resource_id, detail FROM integrity_alerts WHERE subject = 'audit' ORDER BY id DESC LIMIT 1",
    );
    expect(alert).toEqual({ resource_id: '2', detail: 'content-commitment' });
  });
});
