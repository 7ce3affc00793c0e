/**
 * Where the vault learns the Merkle roots anchored on chain. A node's is ChainRootSet
 * (indexer/ChainRootSet.ts: `RootAnchored` events, never the database); vault/contractRootSource.ts
 * asks the Anchors contract directly.
 */
import type { Hex } from 'viem';

/** 0 = records, 1 = audit (the `kind` of `Anchors.anchor`). */
export type AnchorKind = 0 | 1;

export interface RootSource {
  /** The root this node anchored as number `sequence` of `kind`, or undefined while not yet on chain. */
  rootOf(kind: AnchorKind, sequence: bigint): Promise<Hex | undefined>;
}

/** An in-memory root source: tests, benchmarks, and a cache in front of a slower source. */
export function memoryRootSource(): RootSource & {
  set(kind: AnchorKind, sequence: bigint, root: Hex): void;
} {
  const roots = new Map<string, Hex>();
  return {
    async rootOf(kind, sequence) {
      return roots.get(`${kind}:${sequence}`);
    },
    set(kind, sequence, root) {
      roots.set(`${kind}:${sequence}`, root.toLowerCase() as Hex);
    },
  };
}
