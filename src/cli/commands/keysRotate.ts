/**
 * `medledger keys rotate`: makes a new key-encryption key current and re-wraps every
 * data key under it, chunk by chunk, without touching ciphertexts. Interrupted, it is
 * safe to run again: the re-run finishes the job with the same new key.
 */
import { rotateKeys } from '../../vault/rotateKeys.ts';
import type { Command } from '../command.ts';
import { nodeOptions } from '../command.ts';

export const keysRotateCommand: Command = {
  name: ['keys', 'rotate'],
  summary: 're-wrap every data key under a new key-encryption key (resumable)',
  usage: 'medledger keys rotate [--data-dir DIR] [--json]',
  options: nodeOptions,
  workers: false,
  async run(ctx) {
    const result = await rotateKeys(ctx.db, ctx.keyring);
    const json = { ...result };
    const text = [
      `${result.newKey ? 'new' : 'resumed with'} key-encryption key ${result.kekId}: ${result.rewrapped} data keys re-wrapped`,
      result.failed > 0 ? `${result.failed} data keys could not be unwrapped (see integrity alerts)` : '',
      result.retired.length > 0 ? `retired keys: ${result.retired.join(', ')}` : '',
    ]
      .filter(Boolean)
      .join('\n');
    return { exitCode: result.failed > 0 ? 1 : 0, json, text };
  },
};
