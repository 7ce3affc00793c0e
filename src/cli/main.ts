/**
 * `medledger`: the command-line entry. `start` runs a node; every other command runs
 * against the data directory, routed through the node if one is running there.
 * `--json` prints one JSON document on stdout; people's text goes to stderr.
 */
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/config.ts';
import { stderrLogger } from '../config/logger.ts';
import { MedledgerError } from '../errors/MedledgerError.ts';
import { startNode } from '../node/startNode.ts';
import { findRunningNode, runOnNode } from './adminSocket.ts';
import type { CommandResult } from './command.ts';
import { commands, findCommand } from './commands/index.ts';
import { runStart, startUsage } from './start.ts';

const USAGE = `medledger: patient-controlled, tamper-evident health-data exchange

usage: medledger <command> [options]

  start                 ${startUsage.summary}
${commands.map((c) => `  ${c.name.join(' ').padEnd(21)} ${c.summary}`).join('\n')}

Every command takes --help; commands that report take --json.
Common options: --data-dir DIR (MEDLEDGER_DATA_DIR, default ./.medledger), --database-url URL (DATABASE_URL),
--rpc-url URL (MEDLEDGER_RPC_URL).`;

async function main(argv: string[]): Promise<number> {
  const [first] = argv;
  if (!first || first === '--help' || first === '-h' || first === 'help') {
    process.stderr.write(`${USAGE}\n`);
    return first ? 0 : 2;
  }
  if (first === 'start') return runStart(argv.slice(1));
  const command = findCommand(argv);
  if (!command) {
    process.stderr.write(`unknown command: ${argv.join(' ')}\n\n${USAGE}\n`);
    return 2;
  }
  const { values, positionals } = parseArgs({
    args: argv.slice(command.name.length),
    options: command.options,
    allowPositionals: true,
    strict: true,
  });
  if (values.help) {
    process.stderr.write(`${command.summary}\n\nusage: ${command.usage}\n`);
    return 0;
  }
  const flags = values as Record<string, string | undefined>;
  const config = loadConfig({
    'data-dir': flags['data-dir'],
    'database-url': flags['database-url'],
    'rpc-url': flags['rpc-url'],
    name: flags.name,
  });
  const parsed = { values: values as Record<string, string | boolean | undefined>, positionals };
  const parameters = command.prepare ? command.prepare(parsed) : parsed;
  const standalone = await command.standalone?.(parameters);
  const socket = standalone || config.databaseUrl ? undefined : await findRunningNode(config.dataDir);
  let result: CommandResult;
  if (standalone) {
    result = standalone;
  } else if (socket) {
    result = await runOnNode(socket, command.name, parameters);
  } else {
    const logger = stderrLogger({ quiet: true });
    const node = await startNode({
      config,
      logger,
      workers: command.workers,
      deployIfMissing: command.name.join(' ') === 'chain deploy',
    });
    try {
      result = await command.run(node, parameters);
    } finally {
      await node.stop();
    }
  }
  if (values.json) process.stdout.write(`${JSON.stringify(result.json, null, 2)}\n`);
  if (result.text) process.stderr.write(`${result.text}\n`);
  return result.exitCode;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    const message = error instanceof Error ? error.message : String(error);
    const code = error instanceof MedledgerError ? ` [${error.code}]` : '';
    process.stderr.write(`medledger: ${message}${code}\n`);
    process.exitCode = 2;
  },
);
