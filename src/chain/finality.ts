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
 * Whether the chain is a development node that mines a block only when a transaction arrives
 * (anvil or Hardhat with automine): it has no reorganisations of its own, and a second block may
 * never come, so a depth above 1 would leave the last write unconfirmed until the next one.
 */
export async function isAutomineDevChain(publicClient: PublicClient): Promise<boolean> {
  for (const method of ['anvil_getAutomine', 'hardhat_getAutomine'] as const) {
    const automine = await publicClient
      .request({ method, params: [] } as never)
      .then((answer) => answer === true)
      .catch(() => false);
    if (automine) return true;
  }
  return false;
}

/**
 * The finality a node runs with: the configured one, except that the external default (a depth
 * of {@link EXTERNAL_DEFAULT_DEPTH}) is 1 on an automine development chain.
 */
export async function effectiveFinality(
  configured: { finality: Finality; finalityIsDefault: boolean },
  publicClient: PublicClient,
  embedded: boolean,
): Promise<Finality> {
  if (embedded || !configured.finalityIsDefault) return configured.finality;
  return (await isAutomineDevChain(publicClient)) ? { depth: 1 } : configured.finality;
}
