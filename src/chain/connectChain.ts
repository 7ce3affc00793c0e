/**
 * Connects a node to its chain: the embedded anvil (started, funded and deployed to
 * on first use) or an external JSON-RPC endpoint whose contract addresses are in the
 * data directory. Returns viem clients bound to the node's signing account.
 */

import { join } from 'node:path';
import {
  type Account,
  type Chain,
  createPublicClient,
  createTestClient,
  createWalletClient,
  defineChain,
  http,
  type PublicClient,
  parseEther,
  type Transport,
  type WalletClient,
} from 'viem';
import type { Config } from '../config/config.ts';
import { ChainError, ConfigError } from '../errors/MedledgerError.ts';
import {
  type ContractAddresses,
  readContractAddresses,
  writeContractAddresses,
} from './contractAddresses.ts';
import { deployContracts } from './deployContracts.ts';
import { type EmbeddedAnvil, startEmbeddedAnvil } from './embeddedAnvil.ts';
import type { NodeIdentity } from './nodeIdentity.ts';

export interface ChainConnection {
  rpcUrl: string;
  chain: Chain;
  publicClient: PublicClient;
  walletClient: WalletClient<Transport, Chain, Account>;
  addresses: ContractAddresses;
  /** Present in embedded mode. */
  anvil: EmbeddedAnvil | undefined;
  close(): Promise<void>;
}

export interface ConnectChainOptions {
  config: Pick<Config, 'dataDir' | 'rpcUrl' | 'institutionName' | 'publicUrl'>;
  identity: NodeIdentity;
  /** Deploy when no addresses are recorded (embedded mode and `chain deploy`). */
  deployIfMissing?: boolean;
  /**
   * Whether closing stops an embedded anvil this process found already running. A node
   * (`medledger start`) adopts an anvil its crashed predecessor left; a one-shot command
   * must not stop the chain from under a running node.
   */
  adoptRunningAnvil?: boolean;
}

export async function connectChain(options: ConnectChainOptions): Promise<ChainConnection> {
  const { config, identity } = options;
  const anvil = config.rpcUrl
    ? undefined
    : await startEmbeddedAnvil({ chainDir: join(config.dataDir, 'chain') });
  const rpcUrl = config.rpcUrl ?? anvil!.rpcUrl;
  try {
    const probe = createPublicClient({ transport: http(rpcUrl) });
    const chainId = await probe.getChainId().catch((error: unknown) => {
      throw new ChainError('ERR_CHAIN_UNREACHABLE', `the chain at ${rpcUrl} does not answer`, error);
    });
    const chain = defineChain({
      id: chainId,
      name: anvil ? 'medledger embedded' : 'medledger consortium',
      nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
      rpcUrls: { default: { http: [rpcUrl] } },
    });
    const transport = http(rpcUrl, { retryCount: 2, timeout: 15_000 });
    const publicClient = createPublicClient({ chain, transport, pollingInterval: 100 }) as PublicClient;
    const walletClient = createWalletClient({ chain, transport, account: identity.account });
    if (anvil) {
      // Embedded only: the node's fresh key needs gas; anvil mints it.
      const balance = await publicClient.getBalance({ address: identity.account.address });
      if (balance < parseEther('100')) {
        await createTestClient({ chain, transport, mode: 'anvil' }).setBalance({
          address: identity.account.address,
          value: parseEther('1000000'),
        });
      }
    }
    let addresses = await readContractAddresses(config.dataDir);
    if (!addresses) {
      if (!anvil && !options.deployIfMissing) {
        throw new ConfigError(
          `no contract addresses in ${join(config.dataDir, 'chain', 'contracts.json')}: run "medledger chain deploy --rpc-url ${rpcUrl}" or copy the consortium's contracts.json there`,
        );
      }
      if (!anvil && (await publicClient.getBalance({ address: identity.account.address })) === 0n) {
        throw new ConfigError(
          `the node account ${identity.account.address} has no funds on chain ${chainId}: fund it (it pays for anchoring and relaying consent), then run again`,
        );
      }
      addresses = await deployContracts({
        publicClient,
        walletClient,
        firstMember: {
          name: config.institutionName,
          encryptionKey: identity.encryptionPublicKey,
          endpoint: config.publicUrl,
        },
      });
      await writeContractAddresses(config.dataDir, addresses);
    }
    if (addresses.chainId !== chainId) {
      throw new ConfigError(
        `contracts.json is for chain ${addresses.chainId} but ${rpcUrl} is chain ${chainId}`,
      );
    }
    const code = await publicClient.getCode({ address: addresses.registry });
    if (!code || code === '0x') {
      throw new ChainError(
        'ERR_CHAIN_STATE',
        `no Registry contract at ${addresses.registry} on ${rpcUrl}: the chain state does not match this data directory`,
      );
    }
    return {
      rpcUrl,
      chain,
      publicClient,
      walletClient,
      addresses,
      anvil,
      async close() {
        if (anvil && (!anvil.reused || options.adoptRunningAnvil)) await anvil.stop();
      },
    };
  } catch (error) {
    if (anvil && !anvil.reused) await anvil.stop();
    throw error;
  }
}
