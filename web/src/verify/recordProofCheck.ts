/**
 * Checks, in the browser, that a record version is committed on chain: the version's leaf,
 * folded with its Merkle proof (OpenZeppelin MerkleProof: leaf node keccak256(keccak256(leaf)),
 * sorted pairs), must give the root that the Anchors contract holds for this node's record
 * batch (`rootOf(member, 0, sequence)`), read from the chain here. The node itself checked the
 * content against the leaf when it served the record.
 */
import { concat, type Hex, keccak256, type PublicClient, parseAbi } from 'viem';
import type { AnchorProof } from '../../../src/portal/PortalApi.ts';

const ANCHORS_ABI = parseAbi([
  'function rootOf(address member, uint8 kind, uint64 sequence) view returns (bytes32)',
]);

export type RecordCheck =
  | { state: 'verified'; batch: string; block?: string; txHash?: string }
  | { state: 'pending'; why: string }
  | { state: 'failed'; why: string };

export function foldProof(leaf: Hex, siblings: readonly Hex[]): Hex {
  let node = keccak256(keccak256(leaf));
  for (const sibling of siblings) {
    const [a, b] = BigInt(node) <= BigInt(sibling) ? [node, sibling] : [sibling, node];
    node = keccak256(concat([a, b]));
  }
  return node.toLowerCase() as Hex;
}

export function recordProofChecker(client: PublicClient) {
  const roots = new Map<string, Promise<Hex>>();
  return async (proof: AnchorProof): Promise<RecordCheck> => {
    if (proof.status !== 'anchored' || proof.batchSequence === undefined || !proof.root)
      return { state: 'pending', why: 'waiting for its batch to be anchored on chain' };
    if (foldProof(proof.leaf, proof.proof ?? []) !== proof.root.toLowerCase())
      return { state: 'failed', why: 'the Merkle proof does not lead to the batch root' };
    const key = `${proof.anchors}:${proof.member}:${proof.batchSequence}`;
    let onChain = roots.get(key);
    if (!onChain) {
      onChain = client.readContract({
        address: proof.anchors,
        abi: ANCHORS_ABI,
        functionName: 'rootOf',
        args: [proof.member, 0, BigInt(proof.batchSequence)],
      });
      roots.set(key, onChain);
    }
    const root = await onChain;
    if (root.toLowerCase() !== proof.root.toLowerCase())
      return { state: 'failed', why: `the chain holds another root for batch ${proof.batchSequence}` };
    return {
      state: 'verified',
      batch: proof.batchSequence,
      ...(proof.blockNumber ? { block: proof.blockNumber } : {}),
      ...(proof.txHash ? { txHash: proof.txHash } : {}),
    };
  };
}
