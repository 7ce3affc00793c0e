/**
 * `medledger erase TYPE/ID`: crypto-shreds every version of a resource (destroys the
 * data keys, so content and salts are unrecoverable) while the leaves, proofs and the
 * chain stay valid. The erasure itself is recorded.
 */
import { userInfo } from 'node:os';
import { auditOperatorAction } from '../auditOperatorAction.ts';
import type { Command } from '../command.ts';
import { nodeOptions } from '../command.ts';

export const eraseCommand: Command = {
  name: ['erase'],
  summary: 'erase a resource by destroying its data keys (crypto-shredding)',
  usage: 'medledger erase TYPE/ID [--reason TEXT] [--data-dir DIR] [--json]',
  options: { ...nodeOptions, reason: { type: 'string' } },
  workers: false,
  async run(ctx, { values, positionals }) {
    const target = positionals[0] ?? '';
    const match = /^([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})$/.exec(target);
    if (!match) {
      return {
        exitCode: 2,
        json: { error: 'expected TYPE/ID, e.g. Patient/123' },
        text: 'usage: medledger erase TYPE/ID',
      };
    }
    const [, resourceType, id] = match as unknown as [string, string, string];
    const reason = typeof values.reason === 'string' ? values.reason : undefined;
    const result = await ctx.vault.erase(resourceType, id, {
      erasedBy: `cli:${userInfo().username}`,
      reason,
    });
    await auditOperatorAction(ctx, {
      action: 'D',
      description: `erasure (crypto-shredding) of ${resourceType}/${id}${reason ? `: ${reason}` : ''}`,
      resources: result.versionIds.map((v) => `${resourceType}/${id}/_history/${v}`),
      ...(resourceType === 'Patient' ? { patient: `Patient/${id}` } : {}),
    });
    return { exitCode: 0, json: result, text: `erased ${resourceType}/${id}: ${JSON.stringify(result)}` };
  },
};
