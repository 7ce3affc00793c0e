/**
 * Test chain for the vault: a real anvil with the contracts deployed by anvil's first dev account
 * (the first Registry member), and a helper that anchors a batch root directly with viem.
 * (Replace with src/chain/testing/ helpers once they exist.)
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type Account,
  type Chain,
  createPublicClient,
  createWalletClient,
  defineChain,
  type Hex,
  http,
  type PublicClient,
  type Transport,
  type WalletClient,
} from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import type { ContractAddresses } from '../../chain/contractAddresses.ts';
import { deployContracts } from '../../chain/deployContracts.ts';
import { startEmbeddedAnvil } from '../../chain/embeddedAnvil.ts';
import { anchorsAbi } from '../../chain/generated/contracts.ts';

/** anvil's well-known first dev key (test only). */
const DEV_KEY = '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80';

export interface AnvilAnchors {
  publicClient: PublicClient;
  walletClient: WalletClient<Transport, Chain, Account>;
  /** Deploys a fresh Registry/Consent/Anchors set (each test database anchors from sequence 0). */
  deploy(): Promise<ContractAddresses>;
  anchor(
    addresses: ContractAddresses,
    batch: { kind: 0 | 1; sequence: bigint; leafCount: number; root: Hex },
  ): Promise<void>;
  stop(): Promise<void>;
}

export async function startAnvilAnchors(): Promise<AnvilAnchors> {
  const dir = await mkdtemp(join(tmpdir(), 'medledger-anvil-'));
  const anvil = await startEmbeddedAnvil({ chainDir: dir });
  const chain = defineChain({
    id: 31337,
    name: 'anvil',
    nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
    rpcUrls: { default: { http: [anvil.rpcUrl] } },
  });
  const transport = http(anvil.rpcUrl);
  const publicClient = createPublicClient({ chain, transport, pollingInterval: 50 }) as PublicClient;
  const walletClient = createWalletClient({ chain, transport, account: privateKeyToAccount(DEV_KEY) });
  return {
    publicClient,
    walletClient,
    deploy: () =>
      deployContracts({
        publicClient,
        walletClient,
        firstMember: { name: 'Test Hospital', encryptionKey: '0x01', endpoint: 'https://test.invalid' },
      }),
    async anchor(addresses, batch) {
      const hash = await walletClient.writeContract({
        address: addresses.anchors,
        abi: anchorsAbi,
        functionName: 'anchor',
        args: [batch.kind, batch.sequence, batch.leafCount, batch.root],
      });
      const receipt = await publicClient.waitForTransactionReceipt({ hash });
      if (receipt.status !== 'success') throw new Error(`anchor transaction ${hash} reverted`);
    },
    async stop() {
      await anvil.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
