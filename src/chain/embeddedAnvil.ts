/**
 * Embedded chain: runs `anvil` from the `@foundry-rs/anvil` npm package as a child
 * process on a free loopback port, its state saved into the data directory so the
 * ledger survives restarts. If medledger died without stopping it, the next start
 * finds the still-running anvil (pid file) and reuses it rather than forking the chain.
 *
 * Durability and cost: anvil writes `state.json` when it stops (SIGTERM). While it runs, the
 * node saves the state itself ({@link EmbeddedAnvil.saveState}: `anvil_dumpState`, written
 * atomically) right after deployment and then at most every `saveIntervalMs`, and only when the
 * chain has a new block, so an idle chain costs no dumps whatever its size (anvil's own
 * `--state-interval` rewrote the whole file every second). A crash of anvil loses at most the
 * blocks since the last save: {@link EmbeddedAnvil.supervise} restarts it from the file on the
 * same port, and the indexer notices the shorter chain, rewinds, and puts this node's writes
 * back in flight (indexer/ChainIndexer.ts), so nothing acknowledged is lost.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, open, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { ChainError } from '../errors/MedledgerError.ts';

export interface EmbeddedAnvil {
  rpcUrl: string;
  pid: number;
  /** True when an anvil already running on this data directory was found and reused. */
  reused: boolean;
  /** Stops anvil gracefully so it dumps its state. */
  stop(): Promise<void>;
  /** Writes the chain's current state to `state.json` (atomically). False when anvil did not answer. */
  saveState(): Promise<boolean>;
  /**
   * Keeps the chain durable while the node runs: restarts anvil from its state file (same port)
   * when it dies, and saves the state when it changed, at most every `saveIntervalMs`. Returns
   * the function that stops supervising.
   */
  supervise(options: { saveIntervalMs: number; onEvent?: (message: string) => void }): () => void;
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
  const chainId = options.chainId ?? 31337;
  let child = await spawnAnvil(options.chainDir, port, chainId);
  const rpcUrl = `http://127.0.0.1:${port}`;
  await writeFile(pidFile, JSON.stringify({ pid: child.pid ?? 0, port, rpcUrl, chainId }), { mode: 0o600 });
  let stopping = false;
  return {
    rpcUrl,
    get pid() {
      return child.pid ?? 0;
    },
    reused: false,
    stop: () => {
      stopping = true;
      return stopAnvil(child.pid ?? 0, pidFile, child);
    },
    saveState: () => saveAnvilState(rpcUrl, options.chainDir),
    supervise: (supervision) =>
      superviseAnvil({
        ...supervision,
        rpcUrl,
        chainDir: options.chainDir,
        isAlive: () => !stopping && child.exitCode === null && child.signalCode === null,
        restart: async () => {
          if (stopping) return;
          child = await spawnAnvil(options.chainDir, port, chainId);
          await writeFile(pidFile, JSON.stringify({ pid: child.pid ?? 0, port, rpcUrl, chainId }), {
            mode: 0o600,
          });
        },
      }),
  };
}

/** Starts anvil on `port` from `state.json` (if present) and resolves once it answers. */
async function spawnAnvil(chainDir: string, port: number, chainId: number): Promise<ChildProcess> {
  // anvil's output goes to a file, not a pipe: a pipe would kill anvil (SIGPIPE) when a
  // crashed medledger leaves it running.
  const logPath = join(chainDir, 'anvil.log');
  const log = await open(logPath, 'a', 0o600);
  const child = spawn(
    anvilBinaryPath(),
    [
      '--host',
      '127.0.0.1',
      '--port',
      String(port),
      '--chain-id',
      String(chainId),
      // Loaded at start, written by anvil when it stops; saved while it runs by saveAnvilState.
      '--state',
      join(chainDir, 'state.json'),
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
  try {
    await waitForRpc(`http://127.0.0.1:${port}`, child, stderr);
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  return child;
}

/** `anvil_dumpState` (gzip-compressed JSON) written as the `state.json` anvil loads: tmp, fsync, rename. */
async function saveAnvilState(rpcUrl: string, chainDir: string): Promise<boolean> {
  let dump: string;
  try {
    const response = await fetch(rpcUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'anvil_dumpState', params: [] }),
      signal: AbortSignal.timeout(30_000),
    });
    const body = (await response.json()) as { result?: string };
    if (!body.result) return false;
    dump = body.result;
  } catch {
    return false;
  }
  const bytes = Buffer.from(dump.slice(2), 'hex');
  const json = bytes[0] === 0x1f && bytes[1] === 0x8b ? gunzipSync(bytes) : bytes;
  const target = join(chainDir, 'state.json');
  const temporary = `${target}.${process.pid}.tmp`;
  const file = await open(temporary, 'w', 0o600);
  try {
    await file.writeFile(json);
    await file.sync();
  } finally {
    await file.close();
  }
  await rename(temporary, target);
  return true;
}

function superviseAnvil(options: {
  rpcUrl: string;
  chainDir: string;
  saveIntervalMs: number;
  onEvent?: (message: string) => void;
  isAlive: () => boolean;
  restart: () => Promise<void>;
}): () => void {
  let stopped = false;
  let busy = false;
  let savedHead = '';
  let savedAt = Date.now();
  const check = async () => {
    if (busy || stopped) return;
    busy = true;
    try {
      if (!options.isAlive()) {
        options.onEvent?.('the embedded chain (anvil) exited: restarting it from its saved state');
        await options.restart();
        savedHead = '';
        return;
      }
      if (Date.now() - savedAt < options.saveIntervalMs) return;
      const head = await headHash(options.rpcUrl);
      if (head === undefined || head === savedHead) return;
      if (await saveAnvilState(options.rpcUrl, options.chainDir)) {
        savedHead = head;
        savedAt = Date.now();
      }
    } catch (error) {
      options.onEvent?.(
        `embedded chain supervision: ${error instanceof Error ? error.message : String(error)}`,
      );
    } finally {
      busy = false;
    }
  };
  const timer = setInterval(() => void check(), 500);
  timer.unref();
  return () => {
    stopped = true;
    clearInterval(timer);
  };
}

async function headHash(rpcUrl: string): Promise<string | undefined> {
  try {
    const response = await fetch(rpcUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'eth_getBlockByNumber',
        params: ['latest', false],
      }),
      signal: AbortSignal.timeout(2000),
    });
    const body = (await response.json()) as { result?: { hash?: string } };
    return body.result?.hash;
  } catch {
    return undefined;
  }
}

async function reuseRunningAnvil(pidFile: string): Promise<EmbeddedAnvil | undefined> {
  let recorded: { pid: number; rpcUrl: string; port: number; chainId?: number };
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
  const chainDir = join(pidFile, '..');
  let stopping = false;
  let pid = recorded.pid;
  let child: ChildProcess | undefined;
  return {
    rpcUrl: recorded.rpcUrl,
    get pid() {
      return pid;
    },
    reused: true,
    stop: () => {
      stopping = true;
      return stopAnvil(pid, pidFile, child);
    },
    saveState: () => saveAnvilState(recorded.rpcUrl, chainDir),
    supervise: (supervision) =>
      superviseAnvil({
        ...supervision,
        rpcUrl: recorded.rpcUrl,
        chainDir,
        isAlive: () => stopping || isAlive(pid),
        restart: async () => {
          if (stopping) return;
          child = await spawnAnvil(chainDir, recorded.port, recorded.chainId ?? 31337);
          pid = child.pid ?? 0;
          await writeFile(pidFile, JSON.stringify({ ...recorded, pid }), { mode: 0o600 });
        },
      }),
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
