import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseEther } from 'viem';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readContractAddresses } from '../src/chain/contractAddresses.ts';
import { loadNodeIdentity } from '../src/chain/nodeIdentity.ts';
import { type AnvilInstance, createAnvilClients, startAnvil } from '../src/chain/testing/anvil.ts';
import { startNodeProcess } from './support/nodeProcess.ts';

const run = promisify(execFile);

describe('an external chain (--rpc-url)', () => {
  let anvil: AnvilInstance;
  let dataDir = '';

  beforeAll(async () => {
    anvil = await startAnvil();
    dataDir = await mkdtemp(join(tmpdir(), 'medledger-external-'));
  });
  afterAll(async () => {
    await anvil?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('start refuses with a clear message until the contracts are deployed', async () => {
    const failed = await run('node', [
      'bin/medledger.js',
      'start',
      '--data-dir',
      dataDir,
      '--rpc-url',
      anvil.rpcUrl,
      '--port',
      '0',
    ]).then(
      () => undefined,
      (error: { code: number; stderr: string }) => error,
    );
    expect(failed?.code).toBe(2);
    expect(failed?.stderr).toContain('medledger chain deploy');
  });

  it('chain deploy records the addresses, and start then serves on that chain', async () => {
    // The operator funds the node's account on their chain; here the test does.
    const identity = await loadNodeIdentity(dataDir);
    await createAnvilClients(anvil.rpcUrl).testClient.setBalance({
      address: identity.account.address,
      value: parseEther('10'),
    });
    const { stdout } = await run('node', [
      'bin/medledger.js',
      'chain',
      'deploy',
      '--data-dir',
      dataDir,
      '--rpc-url',
      anvil.rpcUrl,
      '--name',
      'Hospital A',
      '--json',
    ]);
    const deployed = JSON.parse(stdout) as { registry: string; firstMember: string };
    expect(deployed.firstMember).toBe(identity.account.address);
    expect((await readContractAddresses(dataDir))?.registry).toBe(deployed.registry);

    const node = await startNodeProcess(dataDir, { MEDLEDGER_RPC_URL: anvil.rpcUrl });
    try {
      const health = (await (await fetch(`${node.url}/healthz`)).json()) as {
        ready: boolean;
        member: string;
      };
      expect(health).toMatchObject({ ready: true, member: identity.account.address });
      const status = JSON.parse(
        (await run('node', ['bin/medledger.js', 'chain', 'status', '--data-dir', dataDir, '--json'])).stdout,
      ) as { embedded: boolean; rpcUrl: string; members: Array<{ name: string }> };
      expect(status).toMatchObject({
        embedded: false,
        rpcUrl: anvil.rpcUrl,
        members: [{ name: 'Hospital A' }],
      });
    } finally {
      expect(await node.stop('SIGTERM')).toBe(0);
    }
  });
});
