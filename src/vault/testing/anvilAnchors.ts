/**
 * Test chain for the vault: a throw-away anvil (src/chain/testing) with the contracts deployed by
 * anvil's first dev account (the first Registry member), and a helper that anchors a batch root
 * directly with viem.
 */
import type { Account, Chain, Hex, PublicClient, Transport, WalletClient } from 'viem';
import type { ContractAddresses } from '../../chain/contractAddresses.ts';
import { deployContracts } from '../../chain/deployContracts.ts';
import { anchorsAbi } from '../../chain/generated/contracts.ts';
import { anvilAccount, createAnvilClients, startAnvil } from '../../chain/testing/anvil.ts';

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
  const anvil = await startAnvil();
  const clients = createAnvilClients(anvil.rpcUrl);
  const publicClient: PublicClient = clients.publicClient;
  const walletClient = clients.walletFor(anvilAccount(0));
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
    stop: () => anvil.stop(),
  };
}
