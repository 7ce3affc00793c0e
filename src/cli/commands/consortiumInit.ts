/**
 * `medledger consortium init --members N --out DIR`: writes a Besu QBFT network for N
 * institutions and each member's medledger configuration (src/consortium/initConsortium.ts).
 * Needs no node: it runs in the CLI process. Private keys go only into the member folders.
 */
import { resolve } from 'node:path';
import { initConsortium } from '../../consortium/initConsortium.ts';
import { ConfigError } from '../../errors/MedledgerError.ts';
import type { Command } from '../command.ts';

export const consortiumInitCommand: Command = {
  name: ['consortium', 'init'],
  summary: 'write genesis, keys and configs for a Besu QBFT consortium of N members',
  usage:
    'medledger consortium init --members N --out DIR [--names A,B,C] [--chain-id ID] [--host-template HOST] [--block-period S] [--json]\n' +
    '  --host-template: host of member n, e.g. "10.0.0.{n}" or "node{n}.example.org" (default 127.0.0.1)',
  options: {
    members: { type: 'string' },
    out: { type: 'string' },
    names: { type: 'string' },
    'chain-id': { type: 'string' },
    'host-template': { type: 'string' },
    'block-period': { type: 'string' },
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  },
  workers: false,
  prepare({ values, positionals }) {
    return {
      values: { ...values, ...(typeof values.out === 'string' ? { out: resolve(values.out) } : {}) },
      positionals,
    };
  },
  async standalone({ values }) {
    if (typeof values.members !== 'string') throw new ConfigError('--members N is required');
    if (typeof values.out !== 'string') throw new ConfigError('--out DIR is required');
    const period = typeof values['block-period'] === 'string' ? Number(values['block-period']) : 2;
    if (!Number.isInteger(period) || period < 1)
      throw new ConfigError('--block-period must be a whole number of seconds');
    const summary = await initConsortium({
      members: Number(values.members),
      outDir: values.out,
      ...(typeof values.names === 'string' ? { names: values.names.split(',').map((n) => n.trim()) } : {}),
      ...(typeof values['chain-id'] === 'string' ? { chainId: Number(values['chain-id']) } : {}),
      ...(typeof values['host-template'] === 'string' ? { hostTemplate: values['host-template'] } : {}),
      timing: { blockPeriodSeconds: period, requestTimeoutSeconds: period * 2, epochLength: 30_000 },
    });
    const text = [
      `consortium of ${summary.members.length} on chain ${summary.chainId} (Besu QBFT) written to ${summary.outDir}`,
      ...summary.members.map(
        (m) =>
          `  ${m.index}. ${m.name}: members/${m.folder}  validator ${m.validator.address}  medledger ${m.medledger.address}`,
      ),
      `next: ${summary.outDir}/DEPLOY.md (each members/ folder holds that member's private keys: hand it to them only)`,
    ].join('\n');
    return { exitCode: 0, json: summary, text };
  },
  async run() {
    throw new ConfigError('consortium init runs in the CLI process only');
  },
};
