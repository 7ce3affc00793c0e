/**
 * What a CLI command is: a plain function over a node context that returns a result
 * for machines (`--json`, on stdout) and text for people (on stderr). The same
 * function runs in the CLI process, or inside a running node when the CLI routes
 * the command there (PGlite admits one process per data directory).
 */
import type { ParseArgsConfig } from 'node:util';
import type { NodeContext } from '../context/NodeContext.ts';

export interface CommandResult {
  /** 0 all good; 1 findings; 2 could not run (INTERFACE.md's convention). */
  exitCode: number;
  json: unknown;
  text: string;
}

export type CommandValues = Record<string, string | boolean | string[] | undefined>;

export interface CommandParameters {
  values: CommandValues;
  positionals: string[];
}

export interface Command {
  /** Words that select it: `['chain', 'status']`. */
  name: readonly string[];
  summary: string;
  usage: string;
  options: NonNullable<ParseArgsConfig['options']>;
  /** Whether it needs the outbox and indexer running while it works. */
  workers: boolean;
  run(ctx: NodeContext, parameters: CommandParameters): Promise<CommandResult>;
  /**
   * Runs in the CLI process before any node is opened; a result ends the command there
   * (work that needs no database, such as checking an exported bundle against the chain).
   */
  standalone?(parameters: CommandParameters): Promise<CommandResult | undefined>;
  /**
   * Runs in the CLI process first, before the command runs here or is routed to a running node:
   * e.g. makes file paths absolute against the CLI's working directory.
   */
  prepare?(parameters: CommandParameters): CommandParameters;
}

/** Options every command that touches a node's data takes (INTERFACE.md). */
export const nodeOptions = {
  'data-dir': { type: 'string' },
  'database-url': { type: 'string' },
  'rpc-url': { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies NonNullable<ParseArgsConfig['options']>;
