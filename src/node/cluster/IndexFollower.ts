/**
 * The consent view of a process that does not run the indexer (another process of the node was
 * elected): it follows what the leader indexed. At start it loads the indexed tables; then, woken by
 * the leader's `indexed` notice (or its own poll), it applies the events the leader stored for the
 * blocks applied since, in chain order, to its own {@link ConsentCache}.
 *
 * Its status mirrors the indexer's: `block` is the block the leader applied, `head` the chain head
 * this process read itself, `polledAt` the last time both agreed. While the leader lags the head,
 * `polledAt` does not move, so consent decisions here fail closed (503) once the leader is more
 * than the policy's staleness behind, exactly as the leader's own would.
 */
import type { PublicClient } from 'viem';
import type { IndexerStatus } from '../../chain/indexer/ChainIndexer.ts';
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
  /** How often it looks without being woken. */
  pollIntervalMs: number;
  onError?: (error: unknown) => void;
}

export class IndexFollower {
  readonly #options: IndexFollowerOptions;
  readonly #loop: PollingLoop;
  readonly #listeners = new Set<() => void>();
  #consent = new ConsentCache();
  #status: IndexerStatus = { block: -1n, head: -1n, polledAt: 0 };
  /** Whether the indexed state was loaded once (until then decisions fail closed: never polled). */
  #loaded = false;

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

  /** Applies what the leader indexed since the last look. */
  async refresh(): Promise<void> {
    const { db, publicClient } = this.#options;
    if (!this.#loaded) await this.#reload();
    const head = await publicClient.getBlockNumber({ cacheTime: 0 });
    const indexed = await indexedBlock(db);
    if (indexed < this.#status.block) {
      await this.#reload(); // the indexer went back (the chain was rewound): start over
    } else if (indexed > this.#status.block) {
      await this.#apply(this.#status.block, indexed);
    }
    if (this.#status.block >= head) {
      this.#status.head = head;
      this.#status.polledAt = Date.now();
    }
    for (const listener of [...this.#listeners]) listener();
  }

  /**
   * A fresh cache. `load` reads the grants, then the indexed block: the grants are current to some
   * block between the one read before and the one read after, so the events in between are
   * replayed in order (each key ends as the last event in that range left it).
   */
  async #reload(): Promise<void> {
    const { db } = this.#options;
    const before = await indexedBlock(db);
    const cache = new ConsentCache();
    await cache.load(db);
    const after = cache.block;
    this.#consent = cache;
    this.#status.block = before;
    if (after > before) await this.#apply(before, after);
    this.#status.block = after;
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
       ORDER BY block_number, log_index`,
      [from.toString(), to.toString(), CONSENT_EVENTS],
    );
    for (const event of events) this.#consent.apply(event.event_name, event.args, BigInt(event.block_number));
    this.#consent.block = to;
    this.#status.block = to;
  }
}

async function indexedBlock(db: Db): Promise<bigint> {
  const [row] = await db.query<{ block_number: string }>(
    'SELECT block_number::text AS block_number FROM chain_index_state WHERE id = 1',
  );
  return row ? BigInt(row.block_number) : -1n;
}
