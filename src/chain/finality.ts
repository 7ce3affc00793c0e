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
