/** The `Anchors` contract (contracts/Anchors.sol) against a real anvil. */
import { keccak256, parseEventLogs, toHex } from 'viem';
import { describe, expect, it } from 'vitest';
import { anchorsAbi } from '../../src/chain/generated/contracts.ts';
import { buildMerkleTree, merkleProofFromTree } from '../../src/chain/merkle.ts';
import {
  anchors,
  expectRevert,
  founder,
  memberC,
  outsider,
  read,
  send,
  setUpConsortium,
} from './support/consortium.ts';

setUpConsortium();

describe('Anchors', () => {
  it('a non-member cannot anchor', async () => {
    const args = await expectRevert(
      outsider,
      anchors('anchor', [0, 0n, 1, keccak256('0x01')]),
      'AnchorsNotMember',
    );
    expect(args).toEqual([outsider.account.address]);
  });

  it('anchors in sequence and rejects a skipped sequence number', async () => {
    const root = keccak256('0x02');
    const receipt = await send(memberC, anchors('anchor', [1, 0n, 5, root]));
    const [event] = parseEventLogs({ abi: anchorsAbi, logs: receipt.logs, eventName: 'RootAnchored' });
    expect(event?.args).toEqual({
      member: memberC.account.address,
      kind: 1,
      sequence: 0n,
      leafCount: 5,
      root,
    });
    const args = await expectRevert(memberC, anchors('anchor', [1, 2n, 5, root]), 'AnchorsSequenceMismatch');
    expect(args).toEqual([1n, 2n]);
    await expectRevert(memberC, anchors('anchor', [1, 0n, 5, root]), 'AnchorsSequenceMismatch');
    await expectRevert(memberC, anchors('anchor', [1, 1n, 0, root]), 'AnchorsEmptyBatch');
    await expectRevert(memberC, anchors('anchor', [2, 1n, 5, root]), 'AnchorsInvalidKind');
    for (let s = 1n; s <= 5n; s++) await send(memberC, anchors('anchor', [1, s, 5, root]));
    expect(await read(anchors('nextSequence', [memberC.account.address, 1]))).toBe(6n);
    expect(await read(anchors('nextSequence', [memberC.account.address, 0]))).toBe(0n);
    expect(await read(anchors('rootOf', [memberC.account.address, 1, 3n]))).toBe(root);
  });

  it('an inclusion proof verifies on chain and a wrong one does not', async () => {
    const leaves = Array.from({ length: 37 }, (_, i) => keccak256(toHex(`record-${i}`)));
    const tree = buildMerkleTree(leaves);
    const member = founder.account.address;
    const sequence = await read<bigint>(anchors('nextSequence', [member, 0]));
    await send(founder, anchors('anchor', [0, sequence, leaves.length, tree.root]));

    for (const i of [0, 17, 36]) {
      const proof = merkleProofFromTree(tree, i);
      expect(await read(anchors('verifyInclusion', [member, 0, sequence, leaves[i], proof]))).toBe(true);
    }
    const proof = merkleProofFromTree(tree, 5);
    expect(await read(anchors('verifyInclusion', [member, 0, sequence, leaves[6], proof]))).toBe(false);
    const tampered = proof.map((p, k) => (k === 1 ? keccak256(p) : p));
    expect(await read(anchors('verifyInclusion', [member, 0, sequence, leaves[5], tampered]))).toBe(false);
    expect(await read(anchors('verifyInclusion', [member, 0, sequence + 1n, leaves[5], proof]))).toBe(false);
  });
});

// ------------------------------------------------------------------------------------------------ registry
