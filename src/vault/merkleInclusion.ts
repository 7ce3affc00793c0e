/**
 * Checks a stored Merkle proof on the read path: the same tree as `chain/merkle.ts` and
 * OpenZeppelin's `MerkleProof` (leaf node `keccak256(keccak256(leaf))`, inner nodes over the
 * sorted pair), but on raw bytes and with the keccak of every pair memoized.
 *
 * Reads of one batch share most of their inner nodes: without the memo every read re-hashes
 * the whole path (two leaf hashes plus one per level). The memo is keyed by the exact hash input
 * (the 32-byte leaf, or the sorted 64-byte pair), so it is a cache of a pure function: every
 * stored proof byte still enters the check, and a changed byte is a different key.
 * @see https://docs.openzeppelin.com/contracts/5.x/api/utils#MerkleProof
 */
import type { Hex } from 'viem';
import { keccak256Bytes as keccak_256 } from '../crypto/keccak256.ts';

const NODE = 32;
/** About 6 MB at most: 64-character keys and 32-byte values. */
const MAX_MEMO_ENTRIES = 65_536;

const memo = new Map<string, Uint8Array>();

/** Whether `proof` (concatenated 32-byte siblings, bottom-up) shows `leaf` is in the tree of `root`. */
export function verifyMerkleInclusion(root: Uint8Array, leaf: Uint8Array, proof: Uint8Array): boolean {
  if (root.length !== NODE || leaf.length !== NODE || proof.length % NODE !== 0) return false;
  let node = memoized(Buffer.from(leaf.buffer, leaf.byteOffset, NODE), leafNode);
  const pair = Buffer.allocUnsafe(2 * NODE);
  for (let at = 0; at < proof.length; at += NODE) {
    const sibling = proof.subarray(at, at + NODE);
    const nodeFirst = Buffer.compare(node, sibling) <= 0;
    pair.set(nodeFirst ? node : sibling, 0);
    pair.set(nodeFirst ? sibling : node, NODE);
    node = memoized(pair, keccak_256);
  }
  return Buffer.compare(node, root) === 0;
}

function leafNode(leaf: Uint8Array): Uint8Array {
  return keccak_256(keccak_256(leaf));
}

function memoized(input: Buffer, hash: (input: Uint8Array) => Uint8Array): Uint8Array {
  const key = input.toString('latin1');
  const known = memo.get(key);
  if (known) return known;
  const value = hash(input);
  if (memo.size >= MAX_MEMO_ENTRIES) memo.delete(memo.keys().next().value as string);
  memo.set(key, value);
  return value;
}

/** A stored proof's sibling nodes as hex (a trailing partial node, which no valid proof has, is left out). */
export function proofNodes(proof: Uint8Array): Hex[] {
  const nodes: Hex[] = [];
  for (let at = 0; at + NODE <= proof.length; at += NODE)
    nodes.push(`0x${Buffer.from(proof.buffer, proof.byteOffset + at, NODE).toString('hex')}`);
  return nodes;
}
