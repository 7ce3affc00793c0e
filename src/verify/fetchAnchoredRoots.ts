/**
 * What the chain says a member anchored, per kind: every `RootAnchored` event (sequence, root,
 * leaf count, transaction, block), cross-checked against `Anchors.nextSequence` so an RPC that
 * leaves logs out cannot hide a batch. The verifier trusts nothing else.
 */
import { type Address, getAbiItem, type Hex, type PublicClient } from 'viem';
import { anchorsAbi } from '../chain/generated/contracts.ts';
import { ChainError } from '../errors/MedledgerError.ts';

export interface AnchoredRoot {
  sequence: bigint;
  root: Hex;
  leafCount: number;
  txHash: Hex;
  blockNumber: bigint;
}

export interface FetchAnchoredRootsParameters {
  publicClient: PublicClient;
  anchors: Address;
  member: Address;
  kind: 0 | 1;
  /** Block the contracts were deployed in. Default 0. */
  fromBlock?: bigint;
  /** Blocks per getLogs call. Default 50,000. */
  blockRange?: bigint;
}

export interface AnchoredRoots {
  roots: Map<bigint, AnchoredRoot>;
  /** `Anchors.nextSequence(member, kind)`: how many batches the chain holds. */
  count: bigint;
}

const ROOT_ANCHORED = getAbiItem({ abi: anchorsAbi, name: 'RootAnchored' });

export async function fetchAnchoredRoots(p: FetchAnchoredRootsParameters): Promise<AnchoredRoots> {
  try {
    const head = await p.publicClient.getBlockNumber({ cacheTime: 0 });
    const count = await p.publicClient.readContract({
      address: p.anchors,
      abi: anchorsAbi,
      functionName: 'nextSequence',
      args: [p.member, p.kind],
      blockNumber: head,
    });
    const roots = new Map<bigint, AnchoredRoot>();
    const range = p.blockRange ?? 50_000n;
    for (let from = p.fromBlock ?? 0n; from <= head; from += range) {
      const to = from + range - 1n < head ? from + range - 1n : head;
      const logs = await p.publicClient.getLogs({
        address: p.anchors,
        event: ROOT_ANCHORED,
        args: { member: p.member, kind: p.kind },
        fromBlock: from,
        toBlock: to,
        strict: true,
      });
      for (const log of logs) {
        roots.set(log.args.sequence, {
          sequence: log.args.sequence,
          root: log.args.root.toLowerCase() as Hex,
          leafCount: log.args.leafCount,
          txHash: log.transactionHash,
          blockNumber: log.blockNumber,
        });
      }
    }
    return { roots, count: BigInt(count) };
  } catch (error) {
    throw new ChainError('ERR_CHAIN_UNREACHABLE', 'could not read the anchored roots from the chain', error);
  }
}
