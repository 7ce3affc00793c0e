/**
 * `medledger consortium add-member --from DIR --name NAME`: keys and configuration for an
 * institution joining a running consortium (src/consortium/addConsortiumMember.ts), and
 * what the existing members must run to admit it. Runs in the CLI process only.
 */
import { resolve } from 'node:path';
import { addConsortiumMember } from '../../consortium/addConsortiumMember.ts';
import { ConfigError } from '../../errors/MedledgerError.ts';
import type { Command } from '../command.ts';

export const consortiumAddMemberCommand: Command = {
  name: ['consortium', 'add-member'],
  summary: 'write keys and configs for an institution joining a running consortium',
  usage: 'medledger consortium add-member --from DIR --name NAME [--host HOST] [--json]',
  options: {
    from: { type: 'string' },
    name: { type: 'string' },
    host: { type: 'string' },
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  },
  workers: false,
  prepare({ values, positionals }) {
    return {
      values: { ...values, ...(typeof values.from === 'string' ? { from: resolve(values.from) } : {}) },
      positionals,
    };
  },
  async standalone({ values }) {
    if (typeof values.from !== 'string')
      throw new ConfigError('--from DIR (the consortium folder) is required');
    if (typeof values.name !== 'string') throw new ConfigError('--name NAME is required');
    const { member } = await addConsortiumMember({
      consortiumDir: values.from,
      name: values.name,
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
      registry: `medledger member propose-admit --address ${m.medledger.address} --name '${m.name.replaceAll("'", `'\\''`)}' --encryption-key ${m.medledger.encryptionKey} --endpoint ${m.medledger.endpoint}`,
    };
    const text = [
      `${m.name} prepared in ${values.from}/members/${m.folder} (its private keys: keep that folder at ${m.name})`,
      'for the existing members to run:',
      `  1. QBFT validator vote, by more than half of the validators: qbft_proposeValidatorVote ["${m.validator.address}", true]`,
      `  2. add to each permissions_config.toml nodes-allowlist (and static-nodes.json): ${m.validator.enode}`,
      `  3. Registry vote: ${admit.registry}`,
      '     then the other members: medledger member vote --proposal ID',
    ].join('\n');
    return { exitCode: 0, json: { member, admit }, text };
  },
  async run() {
    throw new ConfigError('consortium add-member runs in the CLI process only');
  },
};
