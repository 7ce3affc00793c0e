import { StandardMerkleTree } from '@openzeppelin/merkle-tree';
import fc from 'fast-check';
import { bytesToHex, type Hex, keccak256 } from 'viem';
import { describe, expect, it } from 'vitest';
import { keccak256Bytes } from '../crypto/keccak256.ts';
import {
  buildMerkleTree,
  buildMerkleTreeFromBytes,
  merkleProof,
  merkleProofBytes,
  merkleProofFromTree,
  merkleRoot,
  verifyMerkleProof,
} from './merkle.ts';

const bytes32 = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => bytesToHex(b));
const leafSets = fc.array(bytes32, { minLength: 1, maxLength: 70 });

function flipBit(value: Hex, bit: number): Hex {
  const n = BigInt(value) ^ (1n << BigInt(bit % 256));
  return `0x${n.toString(16).padStart(64, '0')}`;
}

describe('merkle', () => {
  it('every proof of every leaf verifies against the root', () => {
    fc.assert(
      fc.property(leafSets, (leaves) => {
        const tree = buildMerkleTree(leaves);
        expect(merkleRoot(leaves)).toBe(tree.root);
        leaves.forEach((leaf, i) => {
          const proof = merkleProofFromTree(tree, i);
          expect(proof).toEqual(merkleProof(leaves, i));
          expect(verifyMerkleProof(tree.root, leaf, proof)).toBe(true);
        });
      }),
    );
  });

  it('a changed leaf does not verify', () => {
    fc.assert(
      fc.property(leafSets, fc.nat(), fc.nat(), (leaves, pick, bit) => {
        const i = pick % leaves.length;
        const proof = merkleProof(leaves, i);
        expect(verifyMerkleProof(merkleRoot(leaves), flipBit(leaves[i]!, bit), proof)).toBe(false);
      }),
    );
  });

  it('a changed proof element does not verify', () => {
    fc.assert(
      fc.property(
        fc.array(bytes32, { minLength: 2, maxLength: 70 }),
        fc.nat(),
        fc.nat(),
        fc.nat(),
        (leaves, pick, at, bit) => {
          const i = pick % leaves.length;
          const proof = merkleProof(leaves, i);
          const j = at % proof.length;
          const altered = proof.map((p, k) => (k === j ? flipBit(p, bit) : p));
          expect(verifyMerkleProof(merkleRoot(leaves), leaves[i]!, altered)).toBe(false);
        },
      ),
    );
  });

  it('a single leaf is its own root node with an empty proof', () => {
    const leaf = keccak256('0x01');
    expect(merkleRoot([leaf])).toBe(keccak256(keccak256(leaf)));
    expect(merkleProof([leaf], 0)).toEqual([]);
  });

  it('proofs agree with OpenZeppelin StandardMerkleTree for bytes32 leaves', () => {
    fc.assert(
      fc.property(leafSets, (leaves) => {
        // StandardMerkleTree uses the same leaf hash and pair hash but its own layout, so compare proofs, not roots.
        const oz = StandardMerkleTree.of(
          leaves.map((l) => [l]),
          ['bytes32'],
        );
        for (let i = 0; i < leaves.length; i++) {
          expect(verifyMerkleProof(oz.root as Hex, leaves[i]!, oz.getProof(i) as Hex[])).toBe(true);
        }
      }),
      { numRuns: 30 },
    );
  });

  it('a 100,000-leaf tree holds fewer than 2n nodes and gives proofs of log2(n) siblings', () => {
    const n = 100_000;
    const leaves = Array.from({ length: n }, (_, i) => keccak256(`0x${i.toString(16).padStart(8, '0')}`));
    const tree = buildMerkleTree(leaves);
    const nodes = tree.levels.reduce((sum, level) => sum + level.length / 32, 0);
    expect(nodes).toBeLessThan(2 * n + tree.levels.length);
    const proof = merkleProofFromTree(tree, 12_345);
    expect(proof.length).toBeLessThanOrEqual(Math.ceil(Math.log2(n)));
    expect(verifyMerkleProof(tree.root, leaves[12_345]!, proof)).toBe(true);
  });

  it('rejects an empty leaf set and an out-of-range index', () => {
    expect(() => merkleRoot([])).toThrow(RangeError);
    expect(() => merkleProof([keccak256('0x01')], 1)).toThrow(RangeError);
  });
});

describe('the byte paths of anchoring', () => {
  it('keccak256Bytes is Ethereum Keccak-256 (viem) for any input, and its results are independent copies', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.uint8Array({ maxLength: 300 }), (a, b) => {
        const ha = keccak256Bytes(a);
        const hb = keccak256Bytes(b);
        expect(bytesToHex(ha)).toBe(keccak256(a));
        expect(bytesToHex(hb)).toBe(keccak256(b));
      }),
    );
  });

  it('a tree from bytes and its byte proofs equal the hex tree and its proofs', () => {
    fc.assert(
      fc.property(leafSets, (leaves) => {
        const tree = buildMerkleTree(leaves);
        const fromBytes = buildMerkleTreeFromBytes(leaves.map((l) => Buffer.from(l.slice(2), 'hex')));
        expect(fromBytes.root).toBe(tree.root);
        leaves.forEach((_, i) => {
          const hex = merkleProofFromTree(tree, i)
            .map((n) => n.slice(2))
            .join('');
          expect(Buffer.from(merkleProofBytes(fromBytes, i)).toString('hex')).toBe(hex);
        });
      }),
    );
  });
});
