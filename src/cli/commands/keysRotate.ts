/**
 * `medledger keys rotate`: makes a new key-encryption key current and re-wraps every
 * data key under it, chunk by chunk, without touching ciphertexts. Interrupted, it is
 * safe to run again: the re-run finishes the job with the same new key.
 */
import { AUDIT_WRAPPED_KEYS } from '../../audit/auditWrappedKeys.ts';
import { BULK_EXPORT_WRAPPED_KEYS } from '../../fhir/bulk/exportWrappedKeys.ts';
import { rotateKeys } from '../../vault/rotateKeys.ts';
import { RECORD_WRAPPED_KEYS } from '../../vault/wrappedKeyTables.ts';
import { auditOperatorAction } from '../auditOperatorAction.ts';
import type { Command } from '../command.ts';
import { nodeOptions } from '../command.ts';

export const keysRotateCommand: Command = {
  name: ['keys', 'rotate'],
  summary: 're-wrap every data key under a new key-encryption key (resumable)',
  usage: 'medledger keys rotate [--data-dir DIR] [--json]',
  options: nodeOptions,
  workers: false,
  async run(ctx) {
    const result = await rotateKeys(ctx.db, ctx.keyring, {
      tables: [RECORD_WRAPPED_KEYS, ...AUDIT_WRAPPED_KEYS, ...BULK_EXPORT_WRAPPED_KEYS],
    });
    await auditOperatorAction(ctx, {
      action: 'E',
      description: `key rotation to ${result.kekId}: ${result.rewrapped} data keys re-wrapped, ${result.failed} failed`,
      outcome: result.failed > 0 ? '4' : '0',
    });
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
