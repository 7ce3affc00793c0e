/**
 * `medledger sync --from URL`: pulls what changed on an EHR's FHIR API since the last sync
 * (src/ehr/sync/syncFromSource.ts), once or every `--interval` seconds until SIGINT / SIGTERM
 * (the current page finishes, then the command ends with its summary). When the command runs
 * inside a running node (over the admin socket), the loop ends once the CLI process is gone.
 */
import { resolve } from 'node:path';
import type { SourceAuth } from '../../ehr/sync/sourceAuthorization.ts';
import {
  formatSyncSummary,
  type SyncOptions,
  type SyncSummary,
  syncFromSource,
} from '../../ehr/sync/syncFromSource.ts';
import type { Command, CommandValues } from '../command.ts';
import { nodeOptions } from '../command.ts';

export const syncCommand: Command = {
  name: ['sync'],
  summary: "pull resources changed since the last sync from an EHR's FHIR API (once or on an interval)",
  usage:
    'medledger sync --from URL [--auth bearer:TOKEN | --client-id ID --private-key FILE --token-url URL [--scope S]] ' +
    '[--types T1,T2] [--interval SECONDS] [--json] [--data-dir DIR]',
  options: {
    ...nodeOptions,
    from: { type: 'string' },
    auth: { type: 'string' },
    'client-id': { type: 'string' },
    'private-key': { type: 'string' },
    'token-url': { type: 'string' },
    scope: { type: 'string' },
    types: { type: 'string' },
    interval: { type: 'string' },
    'page-size': { type: 'string' },
  },
  workers: true,
  prepare(parameters) {
    const key = parameters.values['private-key'];
    return {
      ...parameters,
      values: {
        ...parameters.values,
        ...(typeof key === 'string' ? { 'private-key': resolve(key) } : {}),
        'cli-pid': String(process.pid),
      },
    };
  },
  async run(ctx, { values }) {
    let options: SyncOptions;
    let interval: number | undefined;
    try {
      ({ options, interval } = syncOptionsOf(values));
    } catch (error) {
      const message = (error as Error).message;
      return { exitCode: 2, json: { error: message }, text: `${message}\nusage: ${this.usage}` };
    }
    const controller = new AbortController();
    const stop = () => controller.abort();
    const inCli = values['cli-pid'] === String(process.pid);
    if (inCli) {
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    }
    try {
      if (interval === undefined) {
        const summary = await syncFromSource(ctx, { ...options, signal: controller.signal });
        return {
          exitCode: summary.failed > 0 ? 1 : 0,
          json: summary,
          text: formatSyncSummary(summary),
        };
      }
      const runs: (SyncSummary | { error: string; at: string })[] = [];
      const cliGone = () => !inCli && !processAlive(Number(values['cli-pid']));
      while (!controller.signal.aborted && !cliGone()) {
        try {
          const summary = await syncFromSource(ctx, { ...options, signal: controller.signal });
          runs.push(summary);
          process.stderr.write(`${formatSyncSummary(summary)}\n`);
        } catch (error) {
          const message = error instanceof Error ? error.message : String(error);
          runs.push({ error: message, at: new Date().toISOString() });
          process.stderr.write(`sync failed (next try in ${interval} s): ${message}\n`);
        }
        await pause(interval * 1000, controller.signal, cliGone);
      }
      const failed = runs.some((r) => 'error' in r || r.failed > 0);
      return {
        exitCode: failed ? 1 : 0,
        json: { runs },
        text: `sync stopped after ${runs.length} runs`,
      };
    } catch (error) {
      const message = `sync could not run: ${error instanceof Error ? error.message : String(error)}`;
      return {
        exitCode: 2,
        json: { error: message, code: (error as { code?: string }).code },
        text: message,
      };
    } finally {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    }
  },
};

function syncOptionsOf(values: CommandValues): { options: SyncOptions; interval: number | undefined } {
  const text = (name: string) => (typeof values[name] === 'string' ? (values[name] as string) : undefined);
  const from = text('from');
  if (!from) throw new Error('--from URL is required');
  let auth: SourceAuth = { kind: 'none' };
  const given = text('auth');
  if (given !== undefined) {
    if (!given.startsWith('bearer:') || given.length <= 'bearer:'.length)
      throw new Error('--auth takes bearer:TOKEN');
    auth = { kind: 'bearer', token: given.slice('bearer:'.length) };
  } else if (text('client-id') || text('private-key') || text('token-url')) {
    const clientId = text('client-id');
    const privateKeyFile = text('private-key');
    const tokenUrl = text('token-url');
    if (!clientId || !privateKeyFile || !tokenUrl)
      throw new Error('SMART Backend Services needs --client-id, --private-key and --token-url together');
    auth = { kind: 'backend', clientId, privateKeyFile, tokenUrl, scope: text('scope') ?? 'system/*.rs' };
  }
  const types = text('types')
    ?.split(',')
    .map((t) => t.trim())
    .filter(Boolean);
  const seconds = text('interval');
  const interval = seconds === undefined ? undefined : Number(seconds);
  if (interval !== undefined && !(Number.isFinite(interval) && interval >= 1))
    throw new Error('--interval takes a number of seconds (at least 1)');
  const pageSize = text('page-size') === undefined ? undefined : Number(text('page-size'));
  if (pageSize !== undefined && !(Number.isInteger(pageSize) && pageSize > 0))
    throw new Error('--page-size takes a positive integer');
  return {
    options: {
      from,
      auth,
      ...(types?.length ? { types } : {}),
      ...(pageSize ? { pageSize } : {}),
    },
    interval,
  };
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Waits `ms`, waking early when stopped (checked every 200 ms). */
async function pause(ms: number, signal: AbortSignal, gone: () => boolean): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until && !signal.aborted && !gone()) {
    await new Promise((r) => setTimeout(r, Math.min(200, until - Date.now())));
  }
}
