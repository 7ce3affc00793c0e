/**
 * `medledger consortium add-member --from DIR --name NAME`: keys and configuration for an
 * institution joining a running consortium (src/consortium/addConsortiumMember.ts), and
 * what the existing members must run to admit it. Runs in the CLI process only.
 */
import { resolve } from 'node:path';
import { addConsortiumMember } from '../../consortium/addConsortiumMember.ts';
import { endpointSecurityFromFlags } from '../../consortium/memberTls.ts';
import { ConfigError } from '../../errors/MedledgerError.ts';
import type { Command } from '../command.ts';

export const consortiumAddMemberCommand: Command = {
  name: ['consortium', 'add-member'],
  summary: 'write keys and configs for an institution joining a running consortium',
  usage:
    'medledger consortium add-member --from DIR --name NAME [--tls-cert FILE --tls-key FILE | --insecure-http] [--host HOST] [--json]',
  options: {
    from: { type: 'string' },
    'tls-cert': { type: 'string' },
    'tls-key': { type: 'string' },
    'insecure-http': { type: 'boolean' },
    name: { type: 'string' },
    host: { type: 'string' },
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  },
  workers: false,
  prepare({ values, positionals }) {
    return {
      values: {
        ...values,
        ...(typeof values.from === 'string' ? { from: resolve(values.from) } : {}),
        ...(typeof values['tls-cert'] === 'string' ? { 'tls-cert': resolve(values['tls-cert']) } : {}),
        ...(typeof values['tls-key'] === 'string' ? { 'tls-key': resolve(values['tls-key']) } : {}),
      },
      positionals,
    };
  },
  async standalone({ values }) {
    if (typeof values.from !== 'string')
      throw new ConfigError('--from DIR (the consortium folder) is required');
    if (typeof values.name !== 'string') throw new ConfigError('--name NAME is required');
    const security = endpointSecurityFromFlags({
      tlsCert: typeof values['tls-cert'] === 'string' ? values['tls-cert'] : undefined,
      tlsKey: typeof values['tls-key'] === 'string' ? values['tls-key'] : undefined,
      insecureHttp: values['insecure-http'] === true,
    });
    const { member } = await addConsortiumMember({
      consortiumDir: values.from,
      name: values.name,
      security,
      ...(typeof values.host === 'string' ? { host: values.host } : {}),
    });
    const m = member;
    const admit = {
      validatorVote: {
        method: 'qbft_proposeValidatorVote',
        params: [m.validator.address, true],
        note: 'each of more than half of the current validators calls it on its own Besu',
      },
      allowlistEnode: m.validator.enode,
      // Local permissioning with the PERM API: Besu adds it at run time and writes permissions_config.toml.
      allowlistCall: {
        method: 'perm_addNodesToAllowlist',
        params: [[m.validator.enode]],
        note: 'every member calls it on its own Besu: no restart',
      },
      registry: `medledger member propose-admit --address ${m.medledger.address} --name '${m.name.replaceAll("'", `'\\''`)}' --encryption-key ${m.medledger.encryptionKey} --endpoint ${m.medledger.endpoint}`,
    };
    const text = [
      `${m.name} prepared in ${values.from}/members/${m.folder} (its private keys: keep that folder at ${m.name})`,
      'for the existing members to run:',
      `  1. allow its node, every member on its own Besu (no restart): perm_addNodesToAllowlist [["${m.validator.enode}"]]`,
      `  2. to make it a validator, more than half of the validators: qbft_proposeValidatorVote ["${m.validator.address}", true]`,
      `  3. Registry vote: ${admit.registry}`,
      '     then the other members: medledger member vote --proposal ID',
    ].join('\n');
    return { exitCode: 0, json: { member, admit }, text };
  },
  async run() {
    throw new ConfigError('consortium add-member runs in the CLI process only');
  },
};
