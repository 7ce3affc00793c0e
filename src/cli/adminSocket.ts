/**
 * The private channel between the CLI and a running node on the same data directory:
 * an HTTP server on a Unix socket (`<dataDir>/run/admin.sock`, mode 0600, so only the
 * node's operating-system user can use it). The CLI sends a command and its parsed
 * arguments; the node runs the same command function against its own context.
 */
import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import type { NodeContext } from '../context/NodeContext.ts';
import type { CommandParameters, CommandResult } from './command.ts';
import { findCommand } from './commands/index.ts';

export const runDir = (dataDir: string) => join(dataDir, 'run');
const socketPath = (dataDir: string) => join(runDir(dataDir), 'admin.sock');
const nodeFile = (dataDir: string) => join(runDir(dataDir), 'node.json');

export async function serveAdminSocket(ctx: NodeContext): Promise<FastifyInstance> {
  const dir = runDir(ctx.config.dataDir);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const path = socketPath(ctx.config.dataDir);
  await rm(path, { force: true });
  const app = Fastify({ logger: false });
  app.post<{ Body: { command: string[]; parameters: CommandParameters } }>('/command', async (req) => {
    const command = findCommand(req.body.command);
    if (!command) return { exitCode: 2, json: { error: 'unknown command' }, text: 'unknown command' };
    try {
      return await command.run(ctx, req.body.parameters);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      const code = (error as { code?: string }).code ?? 'ERR_COMMAND';
      return { exitCode: 2, json: { error: message, code }, text: message } satisfies CommandResult;
    }
  });
  app.addHook('onClose', async () => {
    await rm(nodeFile(ctx.config.dataDir), { force: true });
  });
  await app.listen({ path });
  await chmod(path, 0o600);
  await writeFile(nodeFile(ctx.config.dataDir), JSON.stringify({ pid: process.pid, socket: path }), {
    mode: 0o600,
  });
  return app;
}

/** The socket of a node running on this data directory, if one answers. */
export async function findRunningNode(dataDir: string): Promise<string | undefined> {
  let recorded: { pid: number; socket: string };
  try {
    recorded = JSON.parse(await readFile(nodeFile(dataDir), 'utf8'));
  } catch {
    return undefined;
  }
  try {
    process.kill(recorded.pid, 0);
  } catch {
    return undefined; // stale file of a node that died
  }
  return recorded.socket;
}

export function runOnNode(
  socket: string,
  command: readonly string[],
  parameters: CommandParameters,
): Promise<CommandResult> {
  const body = JSON.stringify({ command, parameters });
  return new Promise((resolve, reject) => {
    const req = request(
      {
        socketPath: socket,
        path: '/command',
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => {
          text += chunk;
        });
        res.on('end', () => {
          try {
            resolve(JSON.parse(text) as CommandResult);
          } catch (error) {
            reject(error);
          }
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}
