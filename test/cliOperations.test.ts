import { execFile } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { auditContextOf } from '../src/audit/AuditContext.ts';
import { searchAuditEvents } from '../src/audit/searchAuditEvents.ts';
import { waitForOutboxEntry } from '../src/chain/outbox/outboxEntry.ts';
import { loadConfig } from '../src/config/config.ts';
import { stderrLogger } from '../src/config/logger.ts';
import { startNode } from '../src/node/startNode.ts';
import { embeddedTemplate } from '../src/store/testing/embeddedTemplate.ts';
import { killEmbeddedAnvil } from './support/nodeProcess.ts';

const exec = promisify(execFile);

/** Runs the real `medledger` command; resolves with its exit code and output either way. */
async function medledger(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec('node', ['bin/medledger.js', ...args], { timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('operator commands on a data directory with no node running', () => {
  let dataDir = '';
  afterAll(async () => {
    await killEmbeddedAnvil(dataDir);
    await rm(dataDir, { recursive: true, force: true });
  });

  it('verify passes, erase and keys rotate work and are audited, and verify still passes', async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'medledger-cli-'));
    const config = loadConfig({ 'data-dir': dataDir }, { MEDLEDGER_BATCH_MAX_DELAY_MS: '100' });
    let node = await startNode({
      config,
      logger: stderrLogger({ quiet: true }),
      embeddedTemplate: await embeddedTemplate(),
    });
    const written = await node.vault.create({
      resourceType: 'Observation',
      status: 'final',
      code: { text: 'HbA1c' },
    });
    const id = written.resource.id;
    const [batch] = await node.recordBatcher.flush();
    const anchored = await waitForOutboxEntry(node.db, batch!.outboxId!);
    expect(anchored.status).toBe('confirmed');
    await node.stop();

    const first = await medledger('verify', '--data-dir', dataDir, '--json');
    expect(first.code).toBe(0);
    expect(JSON.parse(first.stdout)).toMatchObject({ ok: true });

    const erased = await medledger(
      'erase',
      `Observation/${id}`,
      '--reason',
      'patient request',
      '--data-dir',
      dataDir,
      '--json',
    );
    expect(erased.code).toBe(0);
    expect(JSON.parse(erased.stdout)).toEqual({ versionIds: [1] });

    const rotated = await medledger('keys', 'rotate', '--data-dir', dataDir, '--json');
    expect(rotated.code).toBe(0);
    expect(JSON.parse(rotated.stdout)).toMatchObject({ newKey: true, failed: 0 });

    node = await startNode({ config, logger: stderrLogger({ quiet: true }), workers: false });
    try {
      await expect(node.vault.read('Observation', id)).rejects.toMatchObject({ code: 'ERR_GONE' });
      const operator = await searchAuditEvents(auditContextOf(node), { agent: 'medledger-cli' });
      const descriptions = operator.resources.map((e) => (e as { outcomeDesc?: string }).outcomeDesc ?? '');
      expect(descriptions.some((d) => d.startsWith(`erasure (crypto-shredding) of Observation/${id}`))).toBe(
        true,
      );
      expect(descriptions.some((d) => d.startsWith('key rotation to '))).toBe(true);
    } finally {
      await node.stop();
    }

    const after = await medledger('verify', '--data-dir', dataDir, '--json');
    expect(after.code).toBe(0);
    // Four commands, each a process of its own that opens the node's database and chain.
  }, 300_000);

  it('verify --bundle needs no node and no data directory', async () => {
    const nowhere = join(tmpdir(), `medledger-nowhere-${Date.now()}`);
    const result = await medledger(
      'verify',
      '--bundle',
      join(nowhere, 'report.json'),
      '--data-dir',
      nowhere,
      '--json',
    );
    expect(result.code).toBe(2);
    expect(JSON.parse(result.stdout).error).toMatch(/cannot read/);
    await expect(stat(nowhere)).rejects.toThrow();
  });
});
