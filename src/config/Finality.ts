/**
 * When a block counts as final for this node: the outbox confirms a write, and the indexer applies
 * a block to the consent cache, only once it is final under this setting, so a consent decision
 * never rests on a block the chain may still drop.
 *
 * - `{ depth: n }`: a block is final once `n` blocks including it are on the chain (the head is
 *   final with depth 1). The embedded anvil (one node, no forks) defaults to 1; an external chain
 *   to {@link EXTERNAL_DEFAULT_DEPTH}.
 * - `'finalized'`: the block the engine itself reports as `finalized` (eth_getBlockByNumber), for
 *   engines with deterministic finality such as Besu QBFT, where it is the head.
 *
 * Set by `MEDLEDGER_CONFIRMATIONS` (a number of blocks, or `finalized`).
 */
export type Finality = { depth: number } | 'finalized';

/** Default depth on an external chain: survives the one-block reorganisations of Clique-style PoA. */
export const EXTERNAL_DEFAULT_DEPTH = 2;

export function defaultFinality(embedded: boolean): Finality {
  return { depth: embedded ? 1 : EXTERNAL_DEFAULT_DEPTH };
}

export function describeFinality(finality: Finality): string {
  return finality === 'finalized' ? 'finalized' : `${finality.depth} confirmation(s)`;
}
