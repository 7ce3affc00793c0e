/**
 * `medledger start` as a child process for the exchange test: like test/support/nodeProcess.ts,
 * with a readiness deadline long enough for three nodes starting at once on a busy machine.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { freePort } from '../../src/chain/embeddedAnvil.ts';

export interface MemberProcess {
  url: string;
  port: number;
  child: ChildProcess;
  output(): string;
  stop(): Promise<number | null>;
}

export async function startMemberProcess(
  dataDir: string,
  env: Record<string, string>,
  options: { port?: number; readyWithinMs?: number } = {},
): Promise<MemberProcess> {
  const port = options.port ?? (await freePort());
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
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + (options.readyWithinMs ?? 180_000);
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
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    url,
    port,
    child,
    output: () => output,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}
