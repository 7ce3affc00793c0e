/** The highest final block under the node's finality setting (config/Finality.ts says what it means). */
import type { PublicClient } from 'viem';
import type { Finality } from '../config/Finality.ts';

export {
  defaultFinality,
  describeFinality,
  EXTERNAL_DEFAULT_DEPTH,
  type Finality,
} from '../config/Finality.ts';

/** The highest final block given the current head (never above it, -1 when none is final yet). */
export async function finalBlockNumber(
  publicClient: PublicClient,
  finality: Finality,
  head: bigint,
): Promise<bigint> {
  if (finality === 'finalized') {
    const block = await publicClient.getBlock({ blockTag: 'finalized' });
    return block.number < head ? block.number : head;
  }
  return head - BigInt(finality.depth - 1);
}

/**
 * Whether the chain is a development node (anvil, Hardhat, Ganache: `web3_clientVersion`, a
 * standard method): a single node that never reorganises on its own (its only rewinds are asked
 * for, and the indexer handles those), and that may mine a block only when a transaction arrives,
 * so a depth above 1 would leave the last write unconfirmed until the next one.
 */
export async function isDevelopmentChain(publicClient: PublicClient): Promise<boolean> {
  const version = await publicClient
    .request({ method: 'web3_clientVersion' } as never)
    .then((answer) => String(answer))
    .catch(() => '');
  return /^(anvil|hardhat|ganache)\b/i.test(version);
}

/**
 * The finality a node runs with: the configured one, except that the external default (a depth
 * of {@link EXTERNAL_DEFAULT_DEPTH}) is 1 on a development chain.
 */
export async function effectiveFinality(
  configured: { finality: Finality; finalityIsDefault: boolean },
  publicClient: PublicClient,
  embedded: boolean,
): Promise<Finality> {
  if (embedded || !configured.finalityIsDefault) return configured.finality;
  return (await isDevelopmentChain(publicClient)) ? { depth: 1 } : configured.finality;
}
