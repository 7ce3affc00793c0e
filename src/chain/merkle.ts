/**
 * Binary Merkle trees compatible with OpenZeppelin's `MerkleProof` (and so with `Anchors.verifyInclusion`).
 *
 * - A leaf is a bytes32; its tree node is `keccak256(keccak256(leaf))`, OpenZeppelin's double hash that
 *   keeps a 64-byte inner node from passing as a leaf (second pre-image).
 * - Inner nodes hash the sorted pair: `keccak256(min(a, b) ‖ max(a, b))` (commutative, no position bits).
 * - A node without a sibling at its level is promoted unchanged.
 *
 * Hashing runs on raw bytes (hash-wasm Keccak, src/crypto/keccak256.ts); it is on the anchoring hot path.
 * @see https://docs.openzeppelin.com/contracts/5.x/api/utils#MerkleProof
 */

import { bytesToHex, type Hex, hexToBytes } from 'viem';
import { keccak256Bytes as keccak_256 } from '../crypto/keccak256.ts';

/** All levels of a tree, leaves' nodes first, each level packed as consecutive 32-byte nodes. */
export interface MerkleTree {
  /** `levels[0]` holds the hashed leaves, the last level holds only the root. */
  readonly levels: readonly Uint8Array[];
  readonly leafCount: number;
  readonly root: Hex;
}

const NODE = 32;

/** The tree node of a bytes32 leaf: keccak256(keccak256(leaf)). */
export function merkleLeafNode(leaf: Hex): Hex {
  return bytesToHex(leafNode(toBytes32(leaf)));
}

/** Builds every level of the tree in O(n), so that any number of proofs can then be read off cheaply. */
export function buildMerkleTree(leaves: readonly Hex[]): MerkleTree {
  return buildMerkleTreeFromBytes(leaves.map(toBytes32));
}

/** {@link buildMerkleTree} of leaves already in bytes (32 each): no hex on the anchoring path. */
export function buildMerkleTreeFromBytes(leaves: readonly Uint8Array[]): MerkleTree {
  if (leaves.length === 0) throw new RangeError('a Merkle tree needs at least one leaf');
  let level = new Uint8Array(leaves.length * NODE);
  for (let i = 0; i < leaves.length; i++) {
    const leaf = leaves[i]!;
    if (leaf.length !== NODE) throw new RangeError(`expected 32 bytes, got ${leaf.length}`);
    level.set(leafNode(leaf), i * NODE);
  }
  const levels = [level];
  const pair = new Uint8Array(2 * NODE);
  while (level.length > NODE) {
    const count = level.length / NODE;
    const next = new Uint8Array(Math.ceil(count / 2) * NODE);
    for (let i = 0; i + 1 < count; i += 2) {
      const a = level.subarray(i * NODE, (i + 1) * NODE);
      const b = level.subarray((i + 1) * NODE, (i + 2) * NODE);
      next.set(hashPair(a, b, pair), (i / 2) * NODE);
    }
    if (count % 2 === 1) next.set(level.subarray((count - 1) * NODE), ((count - 1) / 2) * NODE);
    levels.push(next);
    level = next;
  }
  return { levels, leafCount: leaves.length, root: bytesToHex(level) };
}

/** The inclusion proof (sibling nodes, bottom-up) of leaf `index` in a built tree. */
export function merkleProofFromTree(tree: MerkleTree, index: number): Hex[] {
  if (!Number.isInteger(index) || index < 0 || index >= tree.leafCount) {
    throw new RangeError(`leaf index ${index} out of range 0..${tree.leafCount - 1}`);
  }
  const proof: Hex[] = [];
  let i = index;
  for (const level of tree.levels.slice(0, -1)) {
    const sibling = i ^ 1;
    if (sibling * NODE < level.length)
      proof.push(bytesToHex(level.subarray(sibling * NODE, (sibling + 1) * NODE)));
    i >>= 1;
  }
  return proof;
}

/** {@link merkleProofFromTree} as bytes: the sibling nodes back to back (32 each), bottom-up. */
export function merkleProofBytes(tree: MerkleTree, index: number): Uint8Array {
  if (!Number.isInteger(index) || index < 0 || index >= tree.leafCount) {
    throw new RangeError(`leaf index ${index} out of range 0..${tree.leafCount - 1}`);
  }
  const siblings: Uint8Array[] = [];
  let i = index;
  for (let depth = 0; depth < tree.levels.length - 1; depth++) {
    const level = tree.levels[depth]!;
    const sibling = i ^ 1;
    if (sibling * NODE < level.length) siblings.push(level.subarray(sibling * NODE, (sibling + 1) * NODE));
    i >>= 1;
  }
  const proof = new Uint8Array(siblings.length * NODE);
  for (let k = 0; k < siblings.length; k++) proof.set(siblings[k]!, k * NODE);
  return proof;
}

/** The Merkle root of `leaves` (in the given order). */
export function merkleRoot(leaves: readonly Hex[]): Hex {
  return buildMerkleTree(leaves).root;
}

/** The inclusion proof of `leaves[index]`. Build the tree once with {@link buildMerkleTree} for many proofs. */
export function merkleProof(leaves: readonly Hex[], index: number): Hex[] {
  return merkleProofFromTree(buildMerkleTree(leaves), index);
}

/** Whether `proof` shows that bytes32 `leaf` is in the tree with `root` (same check as OpenZeppelin). */
export function verifyMerkleProof(root: Hex, leaf: Hex, proof: readonly Hex[]): boolean {
  let node: Uint8Array = leafNode(toBytes32(leaf));
  const pair = new Uint8Array(2 * NODE);
  for (const sibling of proof) node = hashPair(node, toBytes32(sibling), pair);
  return bytesToHex(node) === root.toLowerCase();
}

function leafNode(leaf: Uint8Array): Uint8Array {
  return keccak_256(keccak_256(leaf));
}

/** keccak256 of the sorted pair; `scratch` is a reusable 64-byte buffer. */
function hashPair(a: Uint8Array, b: Uint8Array, scratch: Uint8Array): Uint8Array {
  const aFirst = compareBytes(a, b) <= 0;
  scratch.set(aFirst ? a : b, 0);
  scratch.set(aFirst ? b : a, NODE);
  return keccak_256(scratch);
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < NODE; i++) {
    const d = a[i]! - b[i]!;
    if (d !== 0) return d;
  }
  return 0;
}

function toBytes32(value: Hex): Uint8Array {
  const bytes = hexToBytes(value);
  if (bytes.length !== NODE) throw new RangeError(`expected 32 bytes, got ${bytes.length}: ${value}`);
  return bytes;
}
