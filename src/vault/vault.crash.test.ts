import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAbiItem } from 'viem';
import { afterAll, describe, expect, it } from 'vitest';
import { killEmbeddedAnvil } from '../../test/support/nodeProcess.ts';
import { loadConfig } from '../config/config.ts';
import { stderrLogger } from '../config/logger.ts';
import { startNode } from '../node/startNode.ts';

const SCRIPT = 'src/vault/testing/writeStreamScript.ts';

/** Runs the driver; in write mode kills it with SIGKILL `killAfterMs` after it is ready. */
function runDriver(dataDir: string, mode: 'write' | 'drain', killAfterMs = 0): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = spawn('node', ['bin/run-ts.js', SCRIPT, dataDir, mode], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      if (mode === 'write' && out.startsWith('ready\n') && killAfterMs > 0) {
        setTimeout(() => child.kill('SIGKILL'), killAfterMs);
        killAfterMs = 0;
      }
    });
    child.stderr.on('data', (c: Buffer) => {
      err += c.toString();
    });
    child.on('exit', (code, signal) => {
      if (mode === 'write' && signal !== 'SIGKILL')
        return reject(new Error(`driver ended by itself: ${code}\n${err}`));
      if (mode === 'drain' && code !== 0) return reject(new Error(`drain failed: ${code}\n${err}`));
      // Only complete lines were acknowledged; a torn last line is not an acknowledgement.
      const lines = out.split('\n');
      lines.pop();
      resolve(lines.filter((l) => l.startsWith('ack ')).map((l) => l.slice(4)));
    });
  });
}

describe('a node killed at random points during a stream of writes', () => {
  let dataDir = '';
  afterAll(async () => {
    await killEmbeddedAnvil(dataDir);
    await rm(dataDir, { recursive: true, force: true });
  });

  it('loses no acknowledged write and anchors each exactly once, in contiguous batches', async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'medledger-crash-'));
    const acknowledged: string[] = [];
    const kills = 5;
    for (let i = 0; i < kills; i++) {
      const killAfterMs = 300 + Math.floor(Math.random() * 1200);
      acknowledged.push(...(await runDriver(dataDir, 'write', killAfterMs)));
    }
    expect(acknowledged.length).toBeGreaterThan(kills * 5);
    await runDriver(dataDir, 'drain');

    const node = await startNode({
      config: loadConfig({ 'data-dir': dataDir }, {}),
      logger: stderrLogger({ quiet: true }),
      workers: false,
    });
    try {
      const failed = await node.db.query(
        'SELECT dedupe_key, last_error FROM chain_outbox WHERE status <> $1 ORDER BY id',
        ['confirmed'],
      );
      expect(failed).toEqual([]);
      for (const ack of acknowledged) {
        const [type, id, version] = ack.split('/') as [string, string, string];
        const read = await node.vault.vread(type, id, Number(version));
        expect(read.versionId).toBe(Number(version));
        expect(read.anchor.status).toBe('anchored');
      }
      const batches = await node.db.query<{ sequence: string; root: string; leaf_count: number }>(
        'SELECT sequence::text AS sequence, root, leaf_count FROM anchor_batches WHERE kind = 0 ORDER BY anchor_batches.sequence',
      );
      expect(batches.map((b) => Number(b.sequence))).toEqual(batches.map((_, i) => i));
      const [counts] = await node.db.query<{ versions: number; unbatched: number }>(
        `SELECT count(*)::int AS versions, count(*) FILTER (WHERE p.seq IS NULL)::int AS unbatched
         FROM record_versions v LEFT JOIN anchor_proofs p ON p.kind = 0 AND p.seq = v.seq`,
      );
      expect(counts?.unbatched).toBe(0);
      expect(batches.reduce((sum, b) => sum + b.leaf_count, 0)).toBe(counts?.versions);

      const logs = await node.chain.publicClient.getLogs({
        address: node.chain.addresses.anchors,
        event: parseAbiItem(
          'event RootAnchored(address indexed member, uint8 indexed kind, uint64 indexed sequence, uint32 leafCount, bytes32 root)',
        ),
        args: { member: node.identity.account.address, kind: 0 },
        fromBlock: 0n,
      });
      // Each batch posted exactly once, in order, with the root computed locally.
      expect(logs.map((l) => Number(l.args.sequence))).toEqual(batches.map((_, i) => i));
      expect(logs.map((l) => l.args.root)).toEqual(
        batches.map((b) => `0x${Buffer.from(b.root as never).toString('hex')}`),
      );
    } finally {
      await node.stop();
    }
  }, 240_000);
});
