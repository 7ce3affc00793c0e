/**
 * The data directory runs out of space, or is read-only: a small tmpfs mounted on the data
 * directory (needs root; the test says so and fails otherwise, never skips). Full: writes are
 * refused with an OperationOutcome, nothing acknowledged is lost, and once space is freed the
 * node (restarted if it had to stop) serves again and `medledger verify` passes. Read-only:
 * `medledger start` refuses with a message naming the problem.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { killEmbeddedAnvil, type NodeProcess } from '../support/nodeProcess.ts';
import {
  expectAcknowledgedReadable,
  expectConsistentAfterCrashes,
  medledger,
  startFaultNode,
  startWriteStream,
  systemBearer,
  waitFor,
  waitForAnchoringDrained,
} from './support/faults.ts';

const exec = promisify(execFile);
const SIZE_MB = 160;

async function mountTmpfs(dir: string): Promise<void> {
  if (userInfo().uid !== 0) throw new Error('the disk fault test mounts a tmpfs and needs root');
  await exec('mount', ['-t', 'tmpfs', '-o', `size=${SIZE_MB}m,mode=0700`, 'tmpfs', dir]);
}

/** Fills the filesystem of `dir` until ENOSPC; returns the filler's path. */
async function fill(dir: string): Promise<string> {
  const path = join(dir, 'filler');
  await exec('dd', ['if=/dev/zero', `of=${path}`, 'bs=1M', `count=${SIZE_MB}`]).catch(() => {});
  return path;
}

describe('a full or read-only data directory', () => {
  let dataDir = '';
  let node: NodeProcess | undefined;
  afterAll(async () => {
    await node?.stop('SIGKILL');
    await killEmbeddedAnvil(dataDir);
    await exec('umount', ['-l', dataDir]).catch(() => {});
    await rm(dataDir, { recursive: true, force: true });
  });

  it('full: writes are refused cleanly, nothing is lost, and it serves again once space is freed', async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'medledger-fault-disk-'));
    await mountTmpfs(dataDir);
    const admin = await systemBearer(dataDir);
    node = await startFaultNode(dataDir);
    const url = () => (node as NodeProcess).url;
    const before = startWriteStream(url, admin, 'disk-before', { concurrency: 2 });
    await waitFor('writes before the disk fills', async () => before.acknowledged.length >= 10);
    await before.stop();
    await waitForAnchoringDrained(url());

    const filler = await fill(dataDir);
    const full = startWriteStream(url, admin, 'disk-full', { concurrency: 2, okStatuses: [500, 503, 507] });
    await waitFor('writes to be refused on a full disk', async () => full.refused.length >= 3, 60_000).catch(
      (error: Error) => {
        throw new Error(`${error.message}; node ${node?.child.exitCode}:\n${node?.output().slice(-3000)}`);
      },
    );
    await full.stop();
    expect(full.unexpected).toEqual([]);
    // A clear reason in the node's log (not only a generic 500).
    expect(node.output()).toMatch(/ENOSPC|no space left on device|could not extend file|disk full/i);

    await rm(filler);
    // The node either recovered by itself or stopped: either way it serves again after a (re)start.
    const recovered = await fetch(`${url()}/healthz`).then(
      (r) => r.status === 200,
      () => false,
    );
    if (!recovered) {
      await node.stop('SIGKILL');
      node = await startFaultNode(dataDir);
    }
    const after = startWriteStream(url, admin, 'disk-after', { concurrency: 2 });
    await waitFor('writes after space is freed', async () => after.acknowledged.length >= 5);
    await after.stop();
    expect(after.unexpected).toEqual([]);
    const acknowledged = [...before.acknowledged, ...full.acknowledged, ...after.acknowledged];
    await expectAcknowledgedReadable(url(), admin, acknowledged);
    await waitForAnchoringDrained(url());
    expect(await node.stop('SIGTERM')).toBe(0);
    node = undefined;
    await expectConsistentAfterCrashes(dataDir);
  }, 600_000);

  it('read-only: start refuses with a clear message, and starts once writable again', async () => {
    // A node the previous test left running (it failed midway) keeps files open for writing.
    await node?.stop('SIGKILL');
    node = undefined;
    await killEmbeddedAnvil(dataDir);
    await exec('mount', ['-o', 'remount,ro', dataDir]);
    try {
      await expect(writeFile(join(dataDir, 'probe'), 'x')).rejects.toMatchObject({ code: 'EROFS' });
      const started = await medledger(['start', '--data-dir', dataDir, '--port', '0']);
      expect(started.code).not.toBe(0);
      expect(started.stderr).toMatch(/not writable \(read-only file system\)/);
      expect(started.stderr).not.toMatch(/^\s+at /m); // a message, not a stack trace
    } finally {
      await exec('mount', ['-o', 'remount,rw', dataDir]);
    }
    // Nothing could be changed (the mount refused every write) and the node starts again on it.
    node = await startFaultNode(dataDir);
    expect((await fetch(`${node.url}/healthz`)).status).toBe(200);
    expect(await node.stop('SIGTERM')).toBe(0);
    node = undefined;
  }, 300_000);
});
