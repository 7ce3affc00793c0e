import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createPublicClient, createWalletClient, type Hex, http } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { anvil as anvilChain } from 'viem/chains';
import { afterAll, describe, expect, it } from 'vitest';
import { readContractAddresses } from '../src/chain/contractAddresses.ts';
import { anchorsAbi } from '../src/chain/generated/contracts.ts';
import { killEmbeddedAnvil, startNodeProcess } from './support/nodeProcess.ts';

const run = promisify(execFile);

describe('medledger start (embedded mode)', () => {
  let dataDir = '';
  afterAll(async () => {
    await killEmbeddedAnvil(dataDir);
    await rm(dataDir, { recursive: true, force: true });
  });

  it('comes up ready, and a second start on the same data directory finds the same contracts and state', async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'medledger-start-'));
    const first = await startNodeProcess(dataDir);
    const health = (await (await fetch(`${first.url}/healthz`)).json()) as { ready: boolean; member: string };
    expect(health.ready).toBe(true);
    const addresses = (await readContractAddresses(dataDir))!;
    expect(addresses.registry).toMatch(/^0x[0-9a-fA-F]{40}$/);
    expect((await stat(join(dataDir, 'keys', 'node-signing.key'))).mode & 0o777).toBe(0o600);

    // The CLI works while the node holds the embedded database: it is routed through the node.
    const status = JSON.parse(
      (await run('node', ['bin/medledger.js', 'chain', 'status', '--data-dir', dataDir, '--json'])).stdout,
    ) as { contracts: { registry: string }; members: Array<{ address: string; active: boolean }> };
    expect(status.contracts.registry).toBe(addresses.registry);
    expect(status.members).toEqual([
      expect.objectContaining({ address: health.member.toLowerCase(), active: true }),
    ]);

    // Change chain state as the node's member account: anchor sequence 0.
    const key = (await readFile(join(dataDir, 'keys', 'node-signing.key'), 'utf8')).trim() as Hex;
    const anvil = JSON.parse(await readFile(join(dataDir, 'chain', 'anvil.json'), 'utf8')) as {
      rpcUrl: string;
    };
    const wallet = createWalletClient({
      account: privateKeyToAccount(key),
      transport: http(anvil.rpcUrl),
      chain: anvilChain,
    });
    const client = createPublicClient({ transport: http(anvil.rpcUrl) });
    const hash = await wallet.writeContract({
      address: addresses.anchors,
      abi: anchorsAbi,
      functionName: 'anchor',
      args: [0, 0n, 1, `0x${'11'.repeat(32)}`],
    });
    expect((await client.waitForTransactionReceipt({ hash })).status).toBe('success');

    expect(await first.stop('SIGTERM')).toBe(0);
    await expect(stat(join(dataDir, 'chain', 'anvil.json'))).rejects.toThrow(); // anvil stopped with it

    const second = await startNodeProcess(dataDir);
    try {
      expect((await readContractAddresses(dataDir))!).toEqual(addresses);
      const anvil2 = JSON.parse(await readFile(join(dataDir, 'chain', 'anvil.json'), 'utf8')) as {
        rpcUrl: string;
      };
      const client2 = createPublicClient({ transport: http(anvil2.rpcUrl) });
      const next = await client2.readContract({
        address: addresses.anchors,
        abi: anchorsAbi,
        functionName: 'nextSequence',
        args: [health.member as Hex, 0],
      });
      expect(next).toBe(1n);
      const root = await client2.readContract({
        address: addresses.anchors,
        abi: anchorsAbi,
        functionName: 'rootOf',
        args: [health.member as Hex, 0, 0n],
      });
      expect(root).toBe(`0x${'11'.repeat(32)}`);
    } finally {
      expect(await second.stop('SIGTERM')).toBe(0);
    }
  });
});
