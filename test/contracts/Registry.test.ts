/** The `Registry` contract (contracts/Registry.sol) against a real anvil. */
import { keccak256, parseEventLogs } from 'viem';
import { describe, expect, it } from 'vitest';
import { registryAbi } from '../../src/chain/generated/contracts.ts';
import { anvilAccount } from '../../src/chain/testing/anvil.ts';
import {
  anchors,
  clients,
  expectRevert,
  founder,
  memberB,
  memberC,
  outsider,
  proposeAdmit,
  read,
  registry,
  send,
  setUpConsortium,
} from './support/consortium.ts';

setUpConsortium();

describe('Registry governance', () => {
  it('admission needs a majority: with three members one vote does not admit, the second does', async () => {
    expect(await read(registry('activeMemberCount', []))).toBe(3n);
    const newcomer = clients.walletFor(anvilAccount(3));
    const id = await proposeAdmit(founder, newcomer.account.address);
    expect(await read(registry('isActiveMember', [newcomer.account.address]))).toBe(false);
    await expectRevert(founder, registry('vote', [id]), 'RegistryAlreadyVoted');

    const receipt = await send(memberC, registry('vote', [id]));
    const [admitted] = parseEventLogs({ abi: registryAbi, logs: receipt.logs, eventName: 'MemberAdmitted' });
    expect(admitted?.args).toEqual({
      member: newcomer.account.address,
      name: 'Clinic',
      endpoint: 'https://c.example',
    });
    expect(await read(registry('isActiveMember', [newcomer.account.address]))).toBe(true);
    expect(await read(registry('activeMemberCount', []))).toBe(4n);
    await expectRevert(memberB, registry('vote', [id]), 'RegistryProposalClosed');
    await expectRevert(memberB, registry('vote', [999n]), 'RegistryUnknownProposal');
    await expectRevert(outsider, registry('vote', [id]), 'RegistryNotMember');
    await expectRevert(
      founder,
      registry('propose', [0, newcomer.account.address, 'x', '0x', 'x']),
      'RegistryAlreadyMember',
    );
  });

  it('a removed member can no longer anchor', async () => {
    const leaving = clients.walletFor(anvilAccount(3)); // admitted above; 4 active members now
    await send(leaving, anchors('anchor', [0, 0n, 1, keccak256('0x03')]));
    const proposed = await send(founder, registry('propose', [1, leaving.account.address, '', '0x', '']));
    const [created] = parseEventLogs({ abi: registryAbi, logs: proposed.logs, eventName: 'ProposalCreated' });
    expect(created?.args).toEqual({
      proposalId: created!.args.proposalId,
      kind: 1,
      subject: leaving.account.address,
      proposer: founder.account.address,
    });
    const proposalId = created!.args.proposalId;
    await send(memberB, registry('vote', [proposalId]));
    expect(await read(registry('isActiveMember', [leaving.account.address]))).toBe(true); // 2 of 4: not yet
    const receipt = await send(memberC, registry('vote', [proposalId]));
    const [removed] = parseEventLogs({ abi: registryAbi, logs: receipt.logs, eventName: 'MemberRemoved' });
    expect(removed?.args).toEqual({ member: leaving.account.address });
    expect(await read(registry('isActiveMember', [leaving.account.address]))).toBe(false);
    expect(await read(registry('members', []))).toContain(leaving.account.address);
    await expectRevert(leaving, anchors('anchor', [0, 1n, 1, keccak256('0x04')]), 'AnchorsNotMember');
  });
});
