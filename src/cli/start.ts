/**
 * `medledger start`: runs a node in the foreground until SIGINT/SIGTERM: embedded
 * anvil + PGlite by default, or the configured PostgreSQL server and chain.
 */
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/config.ts';
import { stderrLogger } from '../node/logger.ts';
import { startNode } from '../node/startNode.ts';
import { buildWebAppIfMissing } from '../portal/buildWebApp.ts';
import { createServer } from '../server/createServer.ts';
import { serveAdminSocket } from './adminSocket.ts';

export const startUsage = {
  summary: 'run a node (embedded chain and database unless configured otherwise)',
  usage:
    'medledger start [--data-dir DIR] [--port N] [--host H] [--database-url URL] [--rpc-url URL] [--name INSTITUTION] [--tls-cert FILE --tls-key FILE]',
};

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
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    process.stderr.write(`${startUsage.summary}\n\nusage: ${startUsage.usage}\n`);
    return 0;
  }
  const { help: _help, ...flags } = values;
  const config = loadConfig(flags);
  const logger = stderrLogger();
  logger.info(`starting medledger in ${config.dataDir}`);
  const node = await startNode({ config, logger, adoptRunningAnvil: true });
  const server = await createServer(node);
  const admin = await serveAdminSocket(node);
  await server.listen({ port: config.port, host: config.host });
  const address = server.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  logger.info(
    `chain ${node.chain.addresses.chainId} at ${node.chain.rpcUrl}${node.chain.anvil ? ' (embedded anvil)' : ''}; Registry ${node.chain.addresses.registry}`,
  );
  logger.info(
    `database: ${config.databaseUrl ? 'PostgreSQL server' : 'embedded PGlite'}; node account ${node.identity.account.address}`,
  );
  void buildWebAppIfMissing(logger);
  const scheme = config.tls ? 'https' : 'http';
  logger.info(
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
  await admin.close();
  await node.stop();
  return 0;
}
