/**
 * A {@link RootSource} that calls `Anchors.rootOf(member, kind, sequence)` over JSON-RPC. A root,
 * once anchored, never changes, so non-zero answers are cached; zero (not yet anchored) is not.
 */
import type { Address, Hex, PublicClient } from 'viem';
import { anchorsAbi } from '../chain/generated/contracts.ts';
import type { AnchorKind, RootSource } from '../chain/RootSource.ts';

export interface ContractRootSourceParameters {
  publicClient: PublicClient;
  /** Address of the Anchors contract. */
  anchors: Address;
  /** The member (this node's account) whose roots are read. */
  member: Address;
}

const ZERO_ROOT = `0x${'0'.repeat(64)}`;

export function contractRootSource(parameters: ContractRootSourceParameters): RootSource {
  const { publicClient, anchors, member } = parameters;
  const cache = new Map<string, Hex>();
  return {
    async rootOf(kind: AnchorKind, sequence: bigint) {
      const key = `${kind}:${sequence}`;
      const cached = cache.get(key);
      if (cached) return cached;
      const root = await publicClient.readContract({
        address: anchors,
        abi: anchorsAbi,
        functionName: 'rootOf',
        args: [member, kind, sequence],
      });
      if (root === ZERO_ROOT) return undefined;
      const normalized = root.toLowerCase() as Hex;
      cache.set(key, normalized);
      return normalized;
    },
  };
}
