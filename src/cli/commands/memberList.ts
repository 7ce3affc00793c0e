/** `medledger member list`: the consortium's members and governance proposals, read from the Registry. */
import { readMembership } from '../../consortium/readMembership.ts';
import type { Command } from '../command.ts';
import { nodeOptions } from '../command.ts';

export const memberListCommand: Command = {
  name: ['member', 'list'],
  summary: 'list member institutions and open proposals (from the Registry on chain)',
  usage: 'medledger member list [--json]',
  options: nodeOptions,
  workers: false,
  async run(ctx) {
    const me = ctx.identity.account.address;
    const view = await readMembership(ctx.chain.publicClient, ctx.chain.addresses.registry, me);
    const open = view.proposals.filter((p) => !p.executed);
    const text = [
      `${view.activeMembers} active members (a proposal needs ${view.votesNeeded} votes) at block ${view.block}; this node is ${me}`,
      ...view.members.map(
        (m) =>
          `  ${m.active ? 'active ' : 'removed'} ${m.address} ${m.name} ${m.endpoint}${m.address === me ? ' (this node)' : ''}`,
      ),
      open.length === 0 ? 'no open proposals' : 'open proposals:',
      ...open.map(
        (p) =>
          `  ${p.id}: ${p.kind} ${p.subject}, ${p.votes} votes${p.votedByViewer ? ' (this node voted)' : ''}`,
      ),
    ].join('\n');
    return { exitCode: 0, json: view, text };
  },
};
