import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createPublicClient, http, parseAbiItem } from 'viem';
import { afterEach, describe, expect, it } from 'vitest';
import { readContractAddresses } from '../contractAddresses.ts';
import { anchorsAbi } from '../generated/contracts.ts';

const run = promisify(execFile);
const script = 'src/chain/outbox/testing/outboxCrashScript.ts';

async function runScript(dataDir: string, crashAt: string) {
  try {
    const { stdout } = await run('node', ['bin/run-ts.js', script, dataDir, crashAt], { timeout: 60_000 });
    return { killed: false, stdout };
  } catch (error) {
    const e = error as { signal?: string; stderr?: string };
    if (e.signal !== 'SIGKILL') throw new Error(`script failed: ${e.stderr}`);
    return { killed: true, stdout: '' };
  }
}

describe('outbox survives a crash between recording and confirmation', () => {
  const dirs: string[] = [];
  afterEach(async () => {
    for (const dir of dirs.splice(0)) {
      const anvil = JSON.parse(await readFile(join(dir, 'chain', 'anvil.json'), 'utf8').catch(() => '{}'));
      if (anvil.pid) process.kill(anvil.pid, 'SIGKILL');
      await rm(dir, { recursive: true, force: true });
    }
  });

  it.each(['after-sign', 'after-broadcast'])(
    'killed %s, restarted: the write is sent exactly once',
    async (crashAt) => {
      const dataDir = await mkdtemp(join(tmpdir(), 'medledger-outbox-'));
      dirs.push(dataDir);
      const first = await runScript(dataDir, crashAt);
      expect(first.killed).toBe(true);
      const second = await runScript(dataDir, 'none');
      expect(second.killed).toBe(false);
      const rows = JSON.parse(second.stdout) as Array<{ status: string }>;
      expect(rows).toHaveLength(1);
      expect(rows[0]?.status).toBe('confirmed');

      const addresses = (await readContractAddresses(dataDir))!;
      const anvil = JSON.parse(await readFile(join(dataDir, 'chain', 'anvil.json'), 'utf8')) as {
        rpcUrl: string;
      };
      const client = createPublicClient({ transport: http(anvil.rpcUrl) });
      const logs = await client.getLogs({
        address: addresses.anchors,
        event: parseAbiItem(
          'event RootAnchored(address indexed member, uint8 indexed kind, uint64 indexed sequence, uint32 leafCount, bytes32 root)',
        ),
        fromBlock: 0n,
      });
      expect(logs).toHaveLength(1);
      const member = logs[0]!.args.member!;
      const next = await client.readContract({
        address: addresses.anchors,
        abi: anchorsAbi,
        functionName: 'nextSequence',
        args: [member, 0],
      });
      expect(next).toBe(1n);
      // Deploy used nonces 0..2; the anchor is the fourth and last transaction of the node's account.
      expect(await client.getTransactionCount({ address: member })).toBe(4);
    },
  );
});
