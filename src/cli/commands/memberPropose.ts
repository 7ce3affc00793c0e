/**
 * `medledger member propose-admit` / `propose-remove`: this node's member account proposes
 * to admit or remove an institution in the Registry. The proposer's vote counts at once;
 * the proposal carries when a strict majority of the active members has voted.
 */
import type { Address, Hex } from 'viem';
import { type GovernanceResult, submitGovernance } from '../../consortium/submitGovernance.ts';
import type { NodeContext } from '../../context/NodeContext.ts';
import { ConfigError } from '../../errors/MedledgerError.ts';
import { auditOperatorAction } from '../auditOperatorAction.ts';
import type { Command, CommandResult } from '../command.ts';
import { nodeOptions } from '../command.ts';

export const memberProposeAdmitCommand: Command = {
  name: ['member', 'propose-admit'],
  summary: 'propose admitting an institution to the consortium (Registry vote)',
  usage:
    'medledger member propose-admit --address 0x.. --name NAME --encryption-key 0x.. --endpoint URL [--json]',
  options: {
    ...nodeOptions,
    address: { type: 'string' },
    name: { type: 'string' },
    'encryption-key': { type: 'string' },
    endpoint: { type: 'string' },
  },
  workers: true,
  async run(ctx, { values }) {
    const result = await submitGovernance(ctx, {
      type: 'propose-admit',
      subject: required(values.address, '--address') as Address,
      name: required(values.name, '--name'),
      encryptionKey: required(values['encryption-key'], '--encryption-key') as Hex,
      endpoint: required(values.endpoint, '--endpoint'),
    });
    return reportGovernance(
      ctx,
      result,
      `proposal ${result.proposalId}: admit ${result.subject} (${values.name})`,
    );
  },
};

export const memberProposeRemoveCommand: Command = {
  name: ['member', 'propose-remove'],
  summary: 'propose removing a member institution (Registry vote)',
  usage: 'medledger member propose-remove --address 0x.. [--json]',
  options: { ...nodeOptions, address: { type: 'string' } },
  workers: true,
  async run(ctx, { values }) {
    const result = await submitGovernance(ctx, {
      type: 'propose-remove',
      subject: required(values.address, '--address') as Address,
    });
    return reportGovernance(ctx, result, `proposal ${result.proposalId}: remove ${result.subject}`);
  },
};

export function required(value: unknown, flag: string): string {
  if (typeof value !== 'string' || value === '') throw new ConfigError(`${flag} is required`);
  return value;
}

/** Audits the operator's governance action and words its outcome for people. */
export async function reportGovernance(
  ctx: NodeContext,
  result: GovernanceResult,
  what: string,
): Promise<CommandResult> {
  const outcome = result.executed
    ? `carried with ${result.votes} votes: ${result.subject} ${result.kind === 'admit' ? 'admitted' : 'removed'}`
    : `${result.votes} of ${result.votesNeeded} votes needed from ${result.activeMembers} active members; waiting for other members (medledger member vote --proposal ${result.proposalId})`;
  await auditOperatorAction(ctx, {
    action: 'E',
    description: `governance: ${what}; ${outcome} (tx ${result.txHash})`,
  });
  return { exitCode: 0, json: result, text: `${what}\n${outcome}` };
}
