/**
 * `medledger consortium init --members N --out DIR`: writes a Besu QBFT network for N
 * institutions and each member's medledger configuration (src/consortium/initConsortium.ts).
 * Needs no node: it runs in the CLI process. Private keys go only into the member folders.
 */
import { resolve } from 'node:path';
import { faultToleranceNote } from '../../consortium/deploymentSteps.ts';
import { DEFAULT_MEMBERS, initConsortium } from '../../consortium/initConsortium.ts';
import { endpointSecurityFromFlags } from '../../consortium/memberTls.ts';
import { ConfigError } from '../../errors/MedledgerError.ts';
import type { Command } from '../command.ts';

export const consortiumInitCommand: Command = {
  name: ['consortium', 'init'],
  summary: 'write genesis, keys and configs for a Besu QBFT consortium of N members',
  usage:
    'medledger consortium init --out DIR [--tls-cert FILE --tls-key FILE | --insecure-http] [--members N] [--validators V]\n' +
    '    [--names A,B,C] [--chain-id ID] [--host-template HOST] [--block-period S] [--json]\n' +
    `  --members: institutions (default ${DEFAULT_MEMBERS}); --validators: how many of them run a QBFT validator (default all)\n` +
    '  --host-template: host of member n, e.g. "10.0.0.{n}" or "node{n}.example.org" (default 127.0.0.1)\n' +
    '  --tls-cert/--tls-key: PEM certificate and key of member n\'s endpoint, e.g. "certs/{n}.crt" ({slug}: its folder)\n' +
    '  --insecure-http: plain http member endpoints, for a development network only (also what no certificate gives)',
  options: {
    members: { type: 'string' },
    validators: { type: 'string' },
    'tls-cert': { type: 'string' },
    'tls-key': { type: 'string' },
    'insecure-http': { type: 'boolean' },
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
      values: {
        ...values,
        ...(typeof values.out === 'string' ? { out: resolve(values.out) } : {}),
        // Templates keep their {n}/{slug}; resolve() only makes them absolute.
        ...(typeof values['tls-cert'] === 'string' ? { 'tls-cert': resolve(values['tls-cert']) } : {}),
        ...(typeof values['tls-key'] === 'string' ? { 'tls-key': resolve(values['tls-key']) } : {}),
      },
      positionals,
    };
  },
  async standalone({ values }) {
    if (typeof values.out !== 'string') throw new ConfigError('--out DIR is required');
    const security = endpointSecurityFromFlags({
      tlsCert: typeof values['tls-cert'] === 'string' ? values['tls-cert'] : undefined,
      tlsKey: typeof values['tls-key'] === 'string' ? values['tls-key'] : undefined,
      insecureHttp: values['insecure-http'] === true,
    });
    const period = typeof values['block-period'] === 'string' ? Number(values['block-period']) : 2;
    if (!Number.isInteger(period) || period < 1)
      throw new ConfigError('--block-period must be a whole number of seconds');
    const summary = await initConsortium({
      ...(typeof values.members === 'string' ? { members: Number(values.members) } : {}),
      ...(typeof values.validators === 'string' ? { validators: Number(values.validators) } : {}),
      security,
      outDir: values.out,
      ...(typeof values.names === 'string' ? { names: values.names.split(',').map((n) => n.trim()) } : {}),
      ...(typeof values['chain-id'] === 'string' ? { chainId: Number(values['chain-id']) } : {}),
      ...(typeof values['host-template'] === 'string' ? { hostTemplate: values['host-template'] } : {}),
      timing: { blockPeriodSeconds: period, requestTimeoutSeconds: period * 2, epochLength: 30_000 },
    });
    const validators = summary.members.filter((m) => m.validator.validating).length;
    const text = [
      `consortium of ${summary.members.length} on chain ${summary.chainId} (Besu QBFT) written to ${summary.outDir}`,
      ...summary.members.map(
        (m) =>
          `  ${m.index}. ${m.name}: members/${m.folder}  ${m.validator.validating ? 'validator' : 'node (non-validating)'} ${m.validator.address}  medledger ${m.medledger.endpoint}`,
      ),
      faultToleranceNote(validators),
      ...(security.mode === 'insecure-http'
        ? [
            'WARNING: member endpoints are plain http (no --tls-cert/--tls-key given): a development network only, never patient data; give each member a certificate for production (docs/consortium.md)',
          ]
        : []),
      `next: ${summary.outDir}/DEPLOY.md (each members/ folder holds that member's private keys: hand it to them only)`,
    ].join('\n');
    return { exitCode: 0, json: summary, text };
  },
  async run() {
    throw new ConfigError('consortium init runs in the CLI process only');
  },
};
