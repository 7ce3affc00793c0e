/**
 * The consortium's membership as the Registry contract holds it now: members (active or
 * removed) and every governance proposal with its votes. Read from the chain itself, all
 * at one block, rather than from the indexer's cache, which may lag by a block.
 */
import type { Address, Hex, PublicClient } from 'viem';
import { registryAbi } from '../chain/generated/contracts.ts';
import { votesNeeded } from './deploymentSteps.ts';

export const PROPOSAL_KINDS = ['admit', 'remove'] as const;
export type ProposalKindName = (typeof PROPOSAL_KINDS)[number];

/** The name of a Registry.ProposalKind value. */
export function proposalKindName(kind: number): ProposalKindName {
  const name = PROPOSAL_KINDS[kind];
  if (!name) throw new Error(`unknown Registry proposal kind ${kind}`);
  return name;
}

export interface MemberView {
  address: Address;
  name: string;
  endpoint: string;
  encryptionKey: Hex;
  active: boolean;
  /** Unix seconds of the (last) admission. */
  admittedAt: number;
}

export interface ProposalView {
  id: number;
  kind: ProposalKindName;
  subject: Address;
  votes: number;
  executed: boolean;
  /** Whether the viewing node's account has voted for it. */
  votedByViewer: boolean;
}

export interface MembershipView {
  registry: Address;
  block: string;
  activeMembers: number;
  /** Votes a new proposal needs to carry now. */
  votesNeeded: number;
  members: MemberView[];
  proposals: ProposalView[];
}

export async function readMembership(
  publicClient: PublicClient,
  registry: Address,
  viewer: Address,
): Promise<MembershipView> {
  const blockNumber = await publicClient.getBlockNumber({ cacheTime: 0 });
  const read = { address: registry, abi: registryAbi, blockNumber } as const;
  const [addresses, activeCount, proposalCount] = await Promise.all([
    publicClient.readContract({ ...read, functionName: 'members' }),
    publicClient.readContract({ ...read, functionName: 'activeMemberCount' }),
    publicClient.readContract({ ...read, functionName: 'proposalCount' }),
  ]);
  const members = await Promise.all(
    addresses.map(async (address): Promise<MemberView> => {
      const m = await publicClient.readContract({ ...read, functionName: 'getMember', args: [address] });
      return {
        address,
        name: m.name,
        endpoint: m.endpoint,
        encryptionKey: m.encryptionKey,
        active: m.active,
        admittedAt: Number(m.admittedAt),
      };
    }),
  );
  const proposals = await Promise.all(
    Array.from({ length: Number(proposalCount) }, async (_, id): Promise<ProposalView> => {
      const [[kind, subject, votes, executed], voted] = await Promise.all([
        publicClient.readContract({ ...read, functionName: 'getProposal', args: [BigInt(id)] }),
        publicClient.readContract({ ...read, functionName: 'hasVoted', args: [BigInt(id), viewer] }),
      ]);
      return {
        id,
        kind: proposalKindName(kind),
        subject,
        votes: Number(votes),
        executed,
        votedByViewer: voted,
      };
    }),
  );
  const activeMembers = Number(activeCount);
  return {
    registry,
    block: blockNumber.toString(),
    activeMembers,
    votesNeeded: votesNeeded(activeMembers),
    members,
    proposals,
  };
}
