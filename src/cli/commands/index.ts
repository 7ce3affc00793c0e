/** Every CLI command, by its words. `start` is special: it becomes the node. */
import type { Command } from '../command.ts';
import { chainDeployCommand } from './chainDeploy.ts';
import { chainStatusCommand } from './chainStatus.ts';

export const commands: readonly Command[] = [chainDeployCommand, chainStatusCommand];

export function findCommand(words: readonly string[]): Command | undefined {
  return commands.find((c) => c.name.length <= words.length && c.name.every((w, i) => words[i] === w));
}
