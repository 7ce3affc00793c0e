/**
 * The roots this node anchored, as the chain has them: the vault's {@link RootSource} on read.
 * The database is not trusted for them — an insider who rewrites a record, its proofs and its
 * batch root can rewrite `chain_anchored_roots` too — so this set is filled only from the chain:
 * at start from the Anchors contract's `RootAnchored` events for this member (eth_getLogs, paged
 * like ChainIndexer), then from the events the indexer decodes as blocks arrive ({@link add}).
 *
 * A sequence not in the set (a batch anchored since the last block applied, or the indexer is
 * stopped: CLI one-shot commands) costs one `Anchors.rootOf` call. A miss (not on chain yet) is
 * remembered for {@link MISS_RETRY_MS}, and concurrent asks for one sequence share one call, so a
 * search over thousands of just-written records makes a handful of calls, not thousands. When the
 * chain cannot be reached the answer is "not anchored": the version is served as pending (checked
 * against its local batch only, like every version before its root lands), never as anchored, and
 * a root the chain has is never replaced by one from anywhere else.
 *
 * Memory: two {@link RootTable}s (records, audit), ≈32.2 MB each at 1,000,000 anchored batches.
 */
import type { Address, Hex, PublicClient } from 'viem';
import { anchorsAbi } from '../generated/contracts.ts';
import type { AnchorKind, RootSource } from '../RootSource.ts';
import { RootTable } from './RootTable.ts';

/** How long a sequence found missing on chain is answered "missing" without asking again. */
export const MISS_RETRY_MS = 500;
const ZERO_ROOT = `0x${'0'.repeat(64)}`;
const MAX_REMEMBERED_MISSES = 10_000;

export interface ChainRootSetParameters {
  publicClient: PublicClient;
  /** Address of the Anchors contract. */
  anchors: Address;
  /** The member (this node's account) whose roots are kept. */
  member: Address;
  /** Where the event scan starts: the block the contracts were deployed in. */
  fromBlock: bigint;
  /** Blocks per eth_getLogs call. Default 2,000, as ChainIndexer. */
  chunkSize?: bigint;
}

/** A decoded `RootAnchored` event. */
export interface AnchoredRoot {
  member: string;
  kind: number;
  sequence: bigint;
  root: Hex;
}

export class ChainRootSet implements RootSource {
  readonly #parameters: ChainRootSetParameters;
  #tables: readonly [RootTable, RootTable] = [new RootTable(), new RootTable()];
  readonly #missedAt = new Map<string, number>();
  readonly #lookups = new Map<string, Promise<Hex | undefined>>();

  private constructor(parameters: ChainRootSetParameters) {
    this.#parameters = parameters;
  }

  /** A set filled with every root the member has anchored up to the chain head. */
  static async load(parameters: ChainRootSetParameters): Promise<ChainRootSet> {
    const set = new ChainRootSet(parameters);
    await set.#scanToHead();
    return set;
  }

  /** Roots held for `kind`. */
  count(kind: AnchorKind): number {
    return this.#tables[kind].count;
  }

  async rootOf(kind: AnchorKind, sequence: bigint): Promise<Hex | undefined> {
    const known = this.#tables[kind].get(sequence);
    if (known) return known;
    const key = `${kind}:${sequence}`;
    const running = this.#lookups.get(key);
    if (running) return running;
    const missedAt = this.#missedAt.get(key);
    if (missedAt !== undefined && performance.now() - missedAt < MISS_RETRY_MS) return undefined;
    const lookup = this.#lookUp(kind, sequence, key).finally(() => this.#lookups.delete(key));
    this.#lookups.set(key, lookup);
    return lookup;
  }

  /** Takes a `RootAnchored` event read from the chain; other members' roots are ignored. */
  add(event: AnchoredRoot): void {
    if (event.member.toLowerCase() !== this.#parameters.member.toLowerCase()) return;
    if (event.kind !== 0 && event.kind !== 1) return;
    this.#tables[event.kind].set(event.sequence, event.root);
    this.#missedAt.delete(`${event.kind}:${event.sequence}`);
  }

  /** Forgets roots whose block the chain no longer has (the indexer rewound past them). */
  drop(events: AnchoredRoot[]): void {
    for (const event of events) {
      if (event.member.toLowerCase() !== this.#parameters.member.toLowerCase()) continue;
      if (event.kind !== 0 && event.kind !== 1) continue;
      this.#tables[event.kind].delete(event.sequence);
    }
  }

  /**
   * Reads every root from the chain afresh (a process that follows the indexer, told the chain was
   * rewound, does not know which roots went): the old set answers until the new one is complete.
   */
  async rescan(): Promise<void> {
    const fresh = new ChainRootSet(this.#parameters);
    await fresh.#scanToHead();
    this.#tables = fresh.#tables;
    this.#missedAt.clear();
  }

  async #lookUp(kind: AnchorKind, sequence: bigint, key: string): Promise<Hex | undefined> {
    const { publicClient, anchors, member } = this.#parameters;
    let root: Hex;
    try {
      root = await publicClient.readContract({
        address: anchors,
        abi: anchorsAbi,
        functionName: 'rootOf',
        args: [member, kind, sequence],
      });
    } catch {
      // The chain is unreachable: the version is served as pending (checked against its local
      // batch only, as every version is until its root is on chain), never as anchored.
      this.#missed(key);
      return undefined;
    }
    if (root === ZERO_ROOT) {
      this.#missed(key);
      return undefined;
    }
    const normalized = root.toLowerCase() as Hex;
    this.#tables[kind].set(sequence, normalized);
    this.#missedAt.delete(key);
    return normalized;
  }

  #missed(key: string): void {
    if (this.#missedAt.size >= MAX_REMEMBERED_MISSES) this.#missedAt.clear();
    this.#missedAt.set(key, performance.now());
  }

  async #scanToHead(): Promise<void> {
    const { publicClient, anchors, member, fromBlock } = this.#parameters;
    const chunk = this.#parameters.chunkSize ?? 2000n;
    const head = await publicClient.getBlockNumber({ cacheTime: 0 });
    for (let from = fromBlock; from <= head; from += chunk) {
      const to = from + chunk - 1n < head ? from + chunk - 1n : head;
      const events = await publicClient.getContractEvents({
        address: anchors,
        abi: anchorsAbi,
        eventName: 'RootAnchored',
        args: { member },
        fromBlock: from,
        toBlock: to,
        strict: true,
      });
      for (const { args } of events) this.add({ ...args, root: args.root.toLowerCase() as Hex });
    }
  }
}
