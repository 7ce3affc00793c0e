/**
 * Embedded chain: runs `anvil` from the `@foundry-rs/anvil` npm package as a child
 * process on a free loopback port, its state dumped into the data directory so the
 * ledger survives restarts. If medledger died without stopping it, the next start
 * finds the still-running anvil (pid file) and reuses it rather than forking the chain.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, open, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { ChainError } from '../errors/MedledgerError.ts';

export interface EmbeddedAnvil {
  rpcUrl: string;
  pid: number;
  /** True when an anvil already running on this data directory was found and reused. */
  reused: boolean;
  /** Stops anvil gracefully so it dumps its state. */
  stop(): Promise<void>;
}

export interface StartEmbeddedAnvilOptions {
  /** Directory for `state.json` and `anvil.json`. */
  chainDir: string;
  chainId?: number;
}

const require = createRequire(import.meta.url);

/** Path of the anvil binary shipped in the platform package of `@foundry-rs/anvil`. */
export function anvilBinaryPath(): string {
  const arch = process.arch === 'x64' ? 'amd64' : process.arch;
  const pkg = `@foundry-rs/anvil-${process.platform}-${arch}`;
  const binary = process.platform === 'win32' ? 'anvil.exe' : 'anvil';
  try {
    return join(require.resolve(`${pkg}/package.json`), '..', 'bin', binary);
  } catch (error) {
    throw new ChainError(
      'ERR_CHAIN_ANVIL',
      `anvil is not installed for this platform (${pkg}); run npm install`,
      error,
    );
  }
}

export async function startEmbeddedAnvil(options: StartEmbeddedAnvilOptions): Promise<EmbeddedAnvil> {
  await mkdir(options.chainDir, { recursive: true, mode: 0o700 });
  const pidFile = join(options.chainDir, 'anvil.json');
  const reused = await reuseRunningAnvil(pidFile);
  if (reused) return reused;

  const port = await freePort();
  // anvil's output goes to a file, not a pipe: a pipe would kill anvil (SIGPIPE) when a
  // crashed medledger leaves it running, and a restarted anvil loses its last second.
  const logPath = join(options.chainDir, 'anvil.log');
  const log = await open(logPath, 'a', 0o600);
  const child = spawn(
    anvilBinaryPath(),
    [
      '--host',
      '127.0.0.1',
      '--port',
      String(port),
      '--chain-id',
      String(options.chainId ?? 31337),
      '--state',
      join(options.chainDir, 'state.json'),
      '--state-interval',
      '1',
      '--silent',
    ],
    // Own process group: a Ctrl-C in the terminal reaches medledger, which stops anvil in order.
    { stdio: ['ignore', log.fd, log.fd], detached: true },
  );
  await log.close();
  child.unref();
  const stderr = () =>
    readFile(logPath, 'utf8').then(
      (t) => t.slice(-4000),
      () => '',
    );
  const rpcUrl = `http://127.0.0.1:${port}`;
  try {
    await waitForRpc(rpcUrl, child, stderr);
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  const pid = child.pid ?? 0;
  await writeFile(pidFile, JSON.stringify({ pid, port, rpcUrl }), { mode: 0o600 });
  return { rpcUrl, pid, reused: false, stop: () => stopAnvil(pid, pidFile, child) };
}

async function reuseRunningAnvil(pidFile: string): Promise<EmbeddedAnvil | undefined> {
  let recorded: { pid: number; rpcUrl: string };
  try {
    recorded = JSON.parse(await readFile(pidFile, 'utf8'));
  } catch {
    return undefined;
  }
  if (!isAlive(recorded.pid) || !(await rpcAnswers(recorded.rpcUrl))) {
    if (isAlive(recorded.pid)) process.kill(recorded.pid, 'SIGKILL');
    await rm(pidFile, { force: true });
    return undefined;
  }
  return {
    rpcUrl: recorded.rpcUrl,
    pid: recorded.pid,
    reused: true,
    stop: () => stopAnvil(recorded.pid, pidFile),
  };
}

async function stopAnvil(pid: number, pidFile: string, child?: ChildProcess): Promise<void> {
  if (!isAlive(pid)) return;
  const exited = child
    ? new Promise<void>((done) => child.once('exit', () => done()))
    : waitUntil(() => !isAlive(pid), 10_000);
  process.kill(pid, 'SIGTERM'); // anvil dumps its state on SIGTERM
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([exited, new Promise<void>((r) => (timer = setTimeout(r, 10_000)))]);
  clearTimeout(timer);
  if (isAlive(pid)) process.kill(pid, 'SIGKILL');
  await rm(pidFile, { force: true });
}

async function waitForRpc(rpcUrl: string, child: ChildProcess, stderr: () => Promise<string>): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      throw new ChainError(
        'ERR_CHAIN_ANVIL',
        `anvil exited with code ${child.exitCode}: ${(await stderr()).trim()}`,
      );
    }
    if (await rpcAnswers(rpcUrl)) return;
    await sleep(50);
  }
  throw new ChainError('ERR_CHAIN_ANVIL', `anvil did not answer on ${rpcUrl} within 30 s`);
}

/** Whether `rpcUrl` answers `eth_chainId` within a second. */
export async function rpcAnswers(rpcUrl: string): Promise<boolean> {
  try {
    const response = await fetch(rpcUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }),
      signal: AbortSignal.timeout(1000),
    });
    return response.ok;
  } catch {
    return false;
  }
}

function isAlive(pid: number): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A loopback TCP port that was free a moment ago. */
/**
 * A port free now on 127.0.0.1. The kernel may hand the same ephemeral port out again once it is
 * closed, so a process asking twice before binding the first (a node's HTTP port, then its
 * embedded anvil's) could be given one port for both: ports handed out here are never handed out
 * again by this process.
 */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await ephemeralPort();
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    return port;
  }
}

const handedOut = new Set<number>();

function ephemeralPort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitUntil(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition() && Date.now() < deadline) await sleep(50);
}
