/**
 * Starts `medledger start` as a real child process (the same command `npm start`
 * runs) on a free port, waits for `/healthz`, and stops it with a signal.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort } from '../../src/chain/embeddedAnvil.ts';

export interface NodeProcess {
  url: string;
  port: number;
  child: ChildProcess;
  output(): string;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export async function startNodeProcess(
  dataDir: string,
  env: Record<string, string> = {},
  readyTimeoutMs = 60_000,
  /** A fixed port (a node restarted where its peers know it); default a free one. */
  fixedPort?: number,
): Promise<NodeProcess> {
  const port = fixedPort ?? (await freePort());
  const child = spawn('node', ['bin/medledger.js', 'start', '--data-dir', dataDir, '--port', String(port)], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (c: Buffer) => {
    output += c.toString();
  });
  child.stderr?.on('data', (c: Buffer) => {
    output += c.toString();
  });
  const url = `http://127.0.0.1:${port}`;
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const deadline = Date.now() + readyTimeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`medledger exited early (${child.exitCode}):\n${output}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`medledger did not become ready:\n${output}`);
    }
    const ok = await fetch(`${url}/healthz`)
      .then((r) => r.status === 200)
      .catch(() => false);
    if (ok) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    port,
    child,
    output: () => output,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** Kills an embedded anvil left running by a node that was SIGKILLed. */
export async function killEmbeddedAnvil(dataDir: string): Promise<void> {
  try {
    const { pid } = JSON.parse(await readFile(join(dataDir, 'chain', 'anvil.json'), 'utf8')) as {
      pid: number;
    };
    process.kill(pid, 'SIGKILL');
  } catch {
    // not running
  }
}
