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
  /**
   * For calls a request waits on: a short timeout and no retry, so a hung chain costs a request
   * at most {@link REQUEST_TIMEOUT_MS} (and a 503, see chainUnreachable.ts).
   */
  publicClient: PublicClient;
  /** For the background workers (indexer, outbox): patient timeouts and a retry. */
  backgroundClient: PublicClient;
  walletClient: WalletClient<Transport, Chain, Account>;
  addresses: ContractAddresses;
  /** Present in embedded mode. */
  anvil: EmbeddedAnvil | undefined;
  close(): Promise<void>;
}

/** Timeout of the request client's calls. */
export const REQUEST_TIMEOUT_MS = 1500;

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
  /** Embedded: the chain state is saved at most this often, when it changed. Default 30 s. */
  saveIntervalMs?: number;
  /** Embedded: what the chain supervisor did (anvil restarted). */
  onChainEvent?: (message: string) => void;
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
    const backgroundClient = createPublicClient({ chain, transport, pollingInterval: 100 }) as PublicClient;
    const publicClient = createPublicClient({
      chain,
      transport: http(rpcUrl, { retryCount: 0, timeout: REQUEST_TIMEOUT_MS }),
      pollingInterval: 100,
    }) as PublicClient;
    const walletClient = createWalletClient({ chain, transport, account: identity.account });
    if (anvil) {
      // Embedded only: the node's fresh key needs gas; anvil mints it.
      const balance = await backgroundClient.getBalance({ address: identity.account.address });
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
      if (!anvil && (await backgroundClient.getBalance({ address: identity.account.address })) === 0n) {
        throw new ConfigError(
          `the node account ${identity.account.address} has no funds on chain ${chainId}: fund it (it pays for anchoring and relaying consent), then run again`,
        );
      }
      addresses = await deployContracts({
        publicClient: backgroundClient,
        walletClient,
        firstMember: {
          name: config.institutionName,
          encryptionKey: identity.encryptionPublicKey,
          endpoint: config.publicUrl,
        },
      });
      await writeContractAddresses(config.dataDir, addresses);
      // The deployment must survive a crash of anvil: save the chain now, not at the next interval.
      if (anvil) await anvil.saveState();
    }
    if (addresses.chainId !== chainId) {
      throw new ConfigError(
        `contracts.json is for chain ${addresses.chainId} but ${rpcUrl} is chain ${chainId}`,
      );
    }
    const code = await backgroundClient.getCode({ address: addresses.registry });
    if (!code || code === '0x') {
      throw new ChainError(
        'ERR_CHAIN_STATE',
        `no Registry contract at ${addresses.registry} on ${rpcUrl}: the chain state does not match this data directory`,
      );
    }
    const unsupervise =
      anvil && (!anvil.reused || options.adoptRunningAnvil)
        ? anvil.supervise({
            saveIntervalMs: options.saveIntervalMs ?? 30_000,
            ...(options.onChainEvent ? { onEvent: options.onChainEvent } : {}),
          })
        : undefined;
    return {
      rpcUrl,
      chain,
      publicClient,
      backgroundClient,
      walletClient,
      addresses,
      anvil,
      async close() {
        unsupervise?.();
        if (anvil && (!anvil.reused || options.adoptRunningAnvil)) await anvil.stop();
      },
    };
  } catch (error) {
    if (anvil && !anvil.reused) await anvil.stop();
    throw error;
  }
}
