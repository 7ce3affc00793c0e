/**
 * The consent view of a process that does not run the indexer (another process of the node was
 * elected): it follows what the leader indexed. At start it loads the indexed tables; then, woken by
 * the leader's `indexed` notice (or its own poll), it applies the events the leader stored for the
 * blocks applied since, in chain order, to its own {@link ConsentCache}.
 *
 * Its status mirrors the indexer's: `block` is the block the leader applied, `head` and `final` the
 * chain head and final block (under the node's finality setting) this process read itself,
 * `polledAt` the last time the leader's block reached that final block. While the leader lags,
 * `polledAt` does not move, so consent decisions here fail closed (503) once the leader is more
 * than the policy's staleness behind, exactly as the leader's own would.
 *
 * A rewind of the chain (ChainIndexer rewinds the indexed tables to the last block that still
 * holds) is noticed by the state's `rewinds` counter, even when the leader has indexed past the old
 * block again by the time this process looks: the consent view is then loaded afresh, never patched
 * on top of events the chain dropped. The revocations relayed by any process of the node and not
 * yet in the indexed blocks hold here too (ConsentCache.refreshHolds, re-read on every look).
 */
import type { PublicClient } from 'viem';
import { type Finality, finalBlockNumber } from '../../chain/finality.ts';
import type { IndexerRewind, IndexerStatus } from '../../chain/indexer/ChainIndexer.ts';
import { ConsentCache } from '../../chain/indexer/ConsentCache.ts';
import { PollingLoop } from '../../chain/PollingLoop.ts';
import type { Db } from '../../store/db.ts';

/** The events that change a consent decision (ConsentCache.apply). */
const CONSENT_EVENTS = [
  'ConsentGranted',
  'ConsentRevoked',
  'MemberRemoved',
  'MemberAdmitted',
  'EmergencyAccessOpened',
];

export interface IndexFollowerOptions {
  db: Db;
  publicClient: PublicClient;
  /** The node's finality setting: the leader indexes up to the final block only. Default: depth 1. */
  finality?: Finality;
  /** How often it looks without being woken. */
  pollIntervalMs: number;
  onError?: (error: unknown) => void;
  /** After the followed state was found rewound and loaded afresh. */
  onRewound?: (rewind: IndexerRewind) => void;
}

export class IndexFollower {
  readonly #options: IndexFollowerOptions;
  readonly #loop: PollingLoop;
  readonly #listeners = new Set<() => void>();
  #consent = new ConsentCache();
  #status: IndexerStatus = {
    block: -1n,
    head: -1n,
    final: -1n,
    polledAt: 0,
    rewinds: 0,
    lastRewind: undefined,
  };
  /** Whether the indexed state was loaded once (until then decisions fail closed: never polled). */
  #loaded = false;
  /** The state's rewind counter as of the last load: another value means load afresh. */
  #rewindsSeen = 0n;
  #refreshing: Promise<void> | undefined;
  /** When the running (or last) look started, and when the last one ended, succeeded or not. */
  readonly #attempt = { startedAt: 0, endedAt: 0 };
  readonly #attemptListeners = new Set<() => void>();

  constructor(options: IndexFollowerOptions) {
    this.#options = options;
    this.#loop = new PollingLoop(() => this.refresh(), options.pollIntervalMs, options.onError);
  }

  get consent(): ConsentCache {
    return this.#consent;
  }

  get status(): IndexerStatus {
    return { ...this.#status };
  }

  /** Loads the indexed state afresh (once: a one-shot command). */
  async init(): Promise<void> {
    await this.#reload();
    await this.refresh();
  }

  /**
   * Loads the indexed state afresh, then follows it. With the database down (a follower starts when
   * its leader lost the database), the loop keeps trying: until it loads, the state is not current
   * and consent decisions fail closed.
   */
  async start(): Promise<void> {
    await this.init().catch((error: unknown) => this.#options.onError?.(error));
    this.#loop.start();
  }

  stop(): Promise<void> {
    return this.#loop.stop();
  }

  wake(): void {
    this.#loop.wake();
  }

  /** Re-reads the relayed revocations not yet in the indexed blocks (call after relaying one). */
  refreshConsentHolds(): Promise<void> {
    return this.#consent.refreshHolds(this.#options.db);
  }

  /**
   * Resolves once a look newer than `maxAgeMs` succeeded, or failed, or after `timeoutMs` (the
   * caller then reads `status` and decides: a hung chain or leader shows as a stale `polledAt`).
   * It never waits on a look that already hangs longer than `timeoutMs`.
   */
  async ensureFresh(maxAgeMs: number, timeoutMs: number): Promise<void> {
    const now = Date.now();
    if (now - this.#status.polledAt <= maxAgeMs || now - this.#attempt.endedAt <= maxAgeMs) return;
    if (this.#refreshing && now - this.#attempt.startedAt >= timeoutMs) return;
    let done: () => void = () => {};
    const ended = new Promise<void>((resolve) => {
      done = resolve;
      this.#attemptListeners.add(done);
    });
    if (this.#loop.running) this.#loop.wake();
    else void this.refresh().catch(() => {});
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([ended, new Promise<void>((r) => (timer = setTimeout(r, timeoutMs)))]);
    clearTimeout(timer);
    this.#attemptListeners.delete(done);
  }

  /** Resolves once the followed state includes `block`. */
  async waitForBlock(block: bigint, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.#status.block < block) {
      if (Date.now() > deadline)
        throw new Error(`the indexed state did not reach block ${block} in ${timeoutMs} ms`);
      this.#loop.wake();
      await new Promise<void>((resolve) => {
        const done = () => {
          this.#listeners.delete(done);
          resolve();
        };
        this.#listeners.add(done);
        setTimeout(done, 50);
      });
    }
  }

  /** Applies what the leader indexed since the last look (one look at a time). */
  refresh(): Promise<void> {
    if (!this.#refreshing) {
      this.#attempt.startedAt = Date.now();
      this.#refreshing = this.#refresh().finally(() => {
        this.#refreshing = undefined;
        this.#attempt.endedAt = Date.now();
        for (const listener of [...this.#attemptListeners]) listener();
      });
    }
    return this.#refreshing;
  }

  async #refresh(): Promise<void> {
    const { db, publicClient } = this.#options;
    if (!this.#loaded) await this.#reload();
    const head = await publicClient.getBlockNumber({ cacheTime: 0 });
    const final = await finalBlockNumber(publicClient, this.#options.finality ?? { depth: 1 }, head);
    const state = await indexState(db);
    if (state.rewinds !== this.#rewindsSeen || state.block < this.#status.block) {
      // The indexer went back (the chain was rewound): start over from what it holds now.
      const from = this.#status.block;
      await this.#reload();
      const rewind: IndexerRewind = {
        at: Date.now(),
        from,
        to: this.#status.block,
        reopened: 0,
        reason: 'the leader rewound the indexed state (the chain no longer held an indexed block)',
      };
      this.#status.rewinds++;
      this.#status.lastRewind = rewind;
      this.#options.onRewound?.(rewind);
    } else if (state.block > this.#status.block) {
      await this.#apply(this.#status.block, state.block);
    }
    await this.#consent.refreshHolds(db);
    this.#status.head = head;
    this.#status.final = final;
    if (this.#status.block >= final) this.#status.polledAt = Date.now();
    for (const listener of [...this.#listeners]) listener();
  }

  /**
   * A fresh cache. `load` reads the grants, then the indexed block: the grants are current to some
   * block between the one read before and the one read after, so the events in between are
   * replayed in order (each key ends as the last event in that range left it).
   */
  async #reload(): Promise<void> {
    const { db } = this.#options;
    const { block: before, rewinds } = await indexState(db);
    const cache = new ConsentCache();
    await cache.load(db);
    const after = cache.block;
    this.#consent = cache;
    this.#status.block = before;
    if (after > before) await this.#apply(before, after);
    this.#status.block = after;
    this.#rewindsSeen = rewinds;
    this.#loaded = true;
  }

  async #apply(from: bigint, to: bigint): Promise<void> {
    const events = await this.#options.db.query<{
      event_name: string;
      args: Record<string, unknown>;
      block_number: string;
    }>(
      `SELECT event_name, args, block_number::text AS block_number FROM chain_events
       WHERE block_number > $1 AND block_number <= $2 AND event_name = ANY($3)
       ORDER BY chain_events.block_number, log_index`,
      [from.toString(), to.toString(), CONSENT_EVENTS],
    );
    const consent = this.#consent;
    for (const event of events) consent.apply(event.event_name, event.args, BigInt(event.block_number));
    consent.block = to;
    this.#status.block = to;
  }
}

async function indexState(db: Db): Promise<{ block: bigint; rewinds: bigint }> {
  const [row] = await db.query<{ block_number: string; rewinds: string }>(
    'SELECT block_number::text AS block_number, rewinds::text AS rewinds FROM chain_index_state WHERE id = 1',
  );
  return row
    ? { block: BigInt(row.block_number), rewinds: BigInt(row.rewinds) }
    : { block: -1n, rewinds: 0n };
}
