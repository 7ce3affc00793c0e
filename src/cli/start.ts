/**
 * `medledger start`: runs a node in the foreground until SIGINT/SIGTERM: embedded
 * anvil + PGlite by default, or the configured PostgreSQL server and chain.
 *
 * `--workers N` (a PostgreSQL server only) runs N worker processes (node:cluster) sharing the port:
 * each serves the API; one of them, elected through the database, runs the indexer, the outbox and
 * the other background loops (src/node/cluster/Leadership.ts). The primary process serves nothing:
 * it prepares the data directory and the embedded chain once, restarts a worker that dies, and
 * stops the workers (then the chain) on SIGINT/SIGTERM.
 */
import cluster, { type Worker } from 'node:cluster';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startEmbeddedAnvil } from '../chain/embeddedAnvil.ts';
import { type Config, loadConfig } from '../config/config.ts';
import { type Logger, stderrLogger } from '../config/logger.ts';
import { ConfigError } from '../errors/MedledgerError.ts';
import { startNode } from '../node/startNode.ts';
import { buildWebAppIfMissing } from '../portal/buildWebApp.ts';
import { createServer } from '../server/createServer.ts';
import { serveAdminSocket } from './adminSocket.ts';

export const startUsage = {
  summary: 'run a node (embedded chain and database unless configured otherwise)',
  usage:
    'medledger start [--data-dir DIR] [--port N] [--host H] [--database-url URL] [--rpc-url URL] [--name INSTITUTION] [--tls-cert FILE --tls-key FILE] [--workers N]',
};

/** A worker that dies is started again after this long (and no sooner, so a crash loop stays slow). */
const RESTART_DELAY_MS = 1_000;

export async function runStart(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      'data-dir': { type: 'string' },
      port: { type: 'string' },
      host: { type: 'string' },
      'database-url': { type: 'string' },
      'rpc-url': { type: 'string' },
      name: { type: 'string' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      workers: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    process.stderr.write(`${startUsage.summary}\n\nusage: ${startUsage.usage}\n`);
    return 0;
  }
  const { help: _help, workers: workersFlag, ...flags } = values;
  const config = loadConfig(flags);
  const logger = stderrLogger();
  const workers = workerCount(workersFlag ?? process.env.MEDLEDGER_WORKERS, config);
  if (cluster.isPrimary && workers > 1) return runPrimary(config, workers, logger);
  const worker = cluster.isWorker ? `worker ${cluster.worker?.id} (pid ${process.pid}): ` : '';
  const log: Logger = {
    info: (m) => logger.info(`${worker}${m}`),
    warn: (m) => logger.warn(`${worker}${m}`),
    error: (m) => logger.error(`${worker}${m}`),
  };
  if (!cluster.isWorker) log.info(`starting medledger in ${config.dataDir}`);
  // A worker uses the chain its primary started and leaves it running for the others.
  const node = await startNode({ config, logger: log, adoptRunningAnvil: !cluster.isWorker });
  const server = await createServer(node);
  // The admin socket is the PGlite node's (one process); with a server database the CLI opens it itself.
  const admin = cluster.isWorker ? undefined : await serveAdminSocket(node);
  await server.listen({ port: config.port, host: config.host });
  const address = server.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  log.info(
    `chain ${node.chain.addresses.chainId} at ${node.chain.rpcUrl}${node.chain.anvil ? ' (embedded anvil)' : ''}; Registry ${node.chain.addresses.registry}`,
  );
  log.info(
    `database: ${config.databaseUrl ? 'PostgreSQL server' : 'embedded PGlite'}; node account ${node.identity.account.address}${config.databaseUrl ? `; ${node.leadership.leading ? 'leader' : 'follower'}` : ''}`,
  );
  if (!cluster.isWorker) void buildWebAppIfMissing(log);
  const scheme = config.tls ? 'https' : 'http';
  log.info(
    `medledger listening on ${scheme}://${config.host}:${port} (FHIR base ${scheme}://${config.host}:${port}/fhir)`,
  );

  await new Promise<void>((resolve) => {
    const shutdown = (signal: string) => {
      logger.info(`${signal}: shutting down`);
      resolve();
    };
    process.once('SIGINT', () => shutdown('SIGINT'));
    process.once('SIGTERM', () => shutdown('SIGTERM'));
  });
  await server.close();
  await admin?.close();
  await node.stop();
  // The channel to the primary would keep a worker's event loop alive.
  cluster.worker?.disconnect();
  return 0;
}

function workerCount(flag: string | undefined, config: Config): number {
  if (flag === undefined) return 1;
  const n = Number(flag);
  if (!Number.isInteger(n) || n < 1 || n > 64)
    throw new ConfigError(`--workers must be a whole number from 1 to 64, not ${flag}`);
  if (n > 1 && !config.databaseUrl)
    throw new ConfigError(
      '--workers above 1 needs a PostgreSQL server (--database-url or DATABASE_URL): the embedded PGlite database lives in one process',
    );
  return n;
}

/**
 * The primary of `--workers N`: sets the data directory up once (migrations, keys, the embedded
 * chain and its contracts) so that the workers do not race to, forks them, restarts any that
 * dies, and on SIGINT/SIGTERM stops them and then the chain.
 */
async function runPrimary(config: Config, count: number, logger: Logger): Promise<number> {
  logger.info(`starting medledger in ${config.dataDir} with ${count} workers`);
  const anvil = config.rpcUrl
    ? undefined
    : await startEmbeddedAnvil({ chainDir: join(config.dataDir, 'chain') });
  try {
    const setup = await startNode({ config, logger, workers: false });
    await setup.stop();
    void buildWebAppIfMissing(logger);
  } catch (error) {
    await anvil?.stop();
    throw error;
  }
  let stopping = false;
  const fork = (): Worker => cluster.fork();
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) return;
    logger.warn(
      `worker ${worker.id} (pid ${worker.process.pid}) exited (${signal ?? code}); starting another`,
    );
    setTimeout(() => {
      if (!stopping) fork();
    }, RESTART_DELAY_MS);
  });
  for (let i = 0; i < count; i++) fork();
  const signal = await new Promise<string>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
  stopping = true;
  logger.info(`${signal}: stopping the workers`);
  const running = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
  await Promise.all(
    running.map(
      (worker) =>
        new Promise<void>((resolve) => {
          if (worker.isDead()) return resolve();
          worker.once('exit', () => resolve());
          worker.process.kill('SIGTERM');
        }),
    ),
  );
  await anvil?.stop();
  return 0;
}
