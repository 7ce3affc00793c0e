/** `medledger member vote --proposal ID`: this node's member account votes for a Registry proposal. */
import { submitGovernance } from '../../consortium/submitGovernance.ts';
import type { Command } from '../command.ts';
import { nodeOptions } from '../command.ts';
import { reportGovernance, required } from './memberPropose.ts';

export const memberVoteCommand: Command = {
  name: ['member', 'vote'],
  summary: 'vote for a proposal to admit or remove a member',
  usage: 'medledger member vote --proposal ID [--json]',
  options: { ...nodeOptions, proposal: { type: 'string' } },
  workers: true,
  async run(ctx, { values }) {
    const id = required(values.proposal, '--proposal');
    const result = await submitGovernance(ctx, {
      type: 'vote',
      proposalId: /^\d+$/.test(id) ? Number(id) : -1,
    });
    return reportGovernance(
      ctx,
      result,
      `vote for proposal ${result.proposalId} (${result.kind} ${result.subject})`,
    );
  },
};
