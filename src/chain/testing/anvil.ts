/**
 * Starts a throw-away anvil node for tests and benchmarks (no state file, unlike the embedded chain of
 * ../embeddedAnvil.ts, whose binary lookup and port picking it shares), and builds viem clients for its
 * default accounts.
 * @see https://getfoundry.sh/anvil
 */
import { type ChildProcess, spawn } from 'node:child_process';
import {
  type Account,
  type Chain,
  createPublicClient,
  createTestClient,
  createWalletClient,
  type HDAccount,
  http,
  type PublicClient,
  type TestClient,
  type Transport,
  type WalletClient,
} from 'viem';
import { mnemonicToAccount } from 'viem/accounts';
import { anvil as anvilChain } from 'viem/chains';
import { anvilBinaryPath, freePort, rpcAnswers } from '../embeddedAnvil.ts';

export { anvilBinaryPath, freePort };

/** anvil's well-known development mnemonic; its accounts are funded with 10,000 ETH each. */
export const ANVIL_MNEMONIC = 'test test test test test test test test test test test junk';

export interface StartAnvilOptions {
  /** Port to listen on; a free one is picked when omitted. */
  port?: number;
  /** Path of the anvil binary; defaults to the one shipped by @foundry-rs/anvil. */
  binary?: string;
  /** Extra command-line arguments, e.g. `['--steps-tracing']`. */
  args?: readonly string[];
  /** Milliseconds to wait for the node to answer. Default 15,000. */
  timeoutMs?: number;
}

export interface AnvilInstance {
  readonly port: number;
  readonly rpcUrl: string;
  readonly process: ChildProcess;
  /** Kills the node and waits for it to exit. */
  stop(): Promise<void>;
}

/** Development account `index` of {@link ANVIL_MNEMONIC}. */
export function anvilAccount(index: number): HDAccount {
  return mnemonicToAccount(ANVIL_MNEMONIC, { addressIndex: index });
}

/** Spawns anvil and resolves once it answers JSON-RPC. */
export async function startAnvil(options: StartAnvilOptions = {}): Promise<AnvilInstance> {
  const port = options.port ?? (await freePort());
  const rpcUrl = `http://127.0.0.1:${port}`;
  const child = spawn(
    options.binary ?? anvilBinaryPath(),
    ['--port', String(port), '--silent', ...(options.args ?? [])],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };

  const deadline = Date.now() + (options.timeoutMs ?? 15_000);
  while (!(await rpcAnswers(rpcUrl))) {
    if (child.exitCode !== null) throw new Error(`anvil exited with code ${child.exitCode}: ${stderr}`);
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`anvil did not start on port ${port}: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { port, rpcUrl, process: child, stop };
}

export interface AnvilClients {
  readonly chain: Chain;
  readonly publicClient: PublicClient<Transport, Chain>;
  readonly testClient: TestClient<'anvil', Transport, Chain>;
  /** A wallet client for a given account (e.g. {@link anvilAccount}). */
  walletFor(account: Account): WalletClient<Transport, Chain, Account>;
}

/** viem clients talking to `rpcUrl` (chain id 31337). */
export function createAnvilClients(rpcUrl: string): AnvilClients {
  const chain = { ...anvilChain, rpcUrls: { default: { http: [rpcUrl] } } } as const;
  const transport = http(rpcUrl);
  return {
    chain,
    publicClient: createPublicClient({ chain, transport, pollingInterval: 50 }),
    testClient: createTestClient({ chain, transport, mode: 'anvil' }),
    walletFor: (account) => createWalletClient({ chain, transport, account }),
  };
}
