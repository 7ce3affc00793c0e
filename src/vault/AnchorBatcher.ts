/**
 * Schedules {@link buildAnchorBatch} by size and by time: as soon as `maxLeaves` leaves are pending
 * a full batch is built; once started, a leaf this process wrote is batched within `maxDelayMs`
 * (one timer, armed by the first write after a batch, so an idle node runs no statement at all),
 * and with `sweep` every `sweepMs` whatever is pending goes into a batch (leaves written by another
 * process of the node that stopped before its own timer fired, or by a crashed predecessor). Runs
 * are serialized within the process; the advisory lock in buildAnchorBatch serializes them across
 * processes, so every process batches its own writes and the elected one sweeps.
 */
import type { Db } from '../store/db.ts';
import type { AnchorKindConfig } from './anchorKinds.ts';
import { type AnchorBatch, buildAnchorBatch } from './buildAnchorBatch.ts';

export interface AnchorBatcherOptions {
  /** Leaves per batch at most, and the size that triggers a batch at once. Default 1,000. */
  maxLeaves?: number;
  /** The longest a leaf waits for a batch, roughly. Default 2,000 ms. */
  maxDelayMs?: number;
  /** How often the sweep (`start({ sweep: true })`) batches what any process left. Default 30 s. */
  sweepMs?: number;
  /** Failures of background runs (the next tick retries). Default: ignored. */
  onError?: (error: unknown) => void;
  /** Called for every batch built. */
  onBatch?: (batch: AnchorBatch) => void;
}

type RunMode = 'full' | 'all';

export class AnchorBatcher {
  readonly maxLeaves: number;
  readonly maxDelayMs: number;
  readonly sweepMs: number;
  readonly #db: Db;
  readonly #kind: AnchorKindConfig;
  readonly #onError: (error: unknown) => void;
  readonly #onBatch: ((batch: AnchorBatch) => void) | undefined;
  #pending = 0;
  #started = false;
  /** The sweep's interval timer. */
  #timer: NodeJS.Timeout | undefined;
  /** The one-shot timer armed by a write. */
  #due: NodeJS.Timeout | undefined;
  #queue: Promise<unknown> = Promise.resolve();
  #fullQueued = false;

  constructor(db: Db, kind: AnchorKindConfig, options: AnchorBatcherOptions = {}) {
    this.#db = db;
    this.#kind = kind;
    this.maxLeaves = options.maxLeaves ?? 1000;
    this.maxDelayMs = options.maxDelayMs ?? 2000;
    this.sweepMs = Math.max(options.sweepMs ?? 30_000, this.maxDelayMs);
    this.#onError = options.onError ?? (() => {});
    this.#onBatch = options.onBatch;
    if (!(this.maxLeaves >= 1 && this.maxLeaves <= 0xffffffff))
      throw new RangeError('maxLeaves out of range');
  }

  /**
   * Starts the time triggers: this process's writes are batched within `maxDelayMs`; with `sweep`
   * (the elected process) also whatever is pending, every `sweepMs`, starting now.
   */
  start(options: { sweep?: boolean } = {}): void {
    if (this.#started) return;
    this.#started = true;
    if (this.#pending > 0) this.#arm();
    if (!options.sweep) return;
    this.#enqueue('all').catch(this.#onError);
    this.#timer = setInterval(() => {
      this.#enqueue('all').catch(this.#onError);
    }, this.sweepMs);
    this.#timer.unref();
  }

  /** Tells the batcher `count` leaves were committed; triggers a full batch when enough are pending. */
  noteWritten(count = 1): void {
    this.#pending += count;
    if (this.#pending >= this.maxLeaves && !this.#fullQueued) {
      this.#fullQueued = true;
      this.#enqueue('full').catch(this.#onError);
    }
    if (this.#started) this.#arm();
  }

  #arm(): void {
    if (this.#due) return;
    this.#due = setTimeout(() => {
      this.#due = undefined;
      this.#enqueue('all').catch(this.#onError);
    }, this.maxDelayMs);
    this.#due.unref();
  }

  /** Batches everything pending now (partial batch included) and returns the batches built. */
  flush(): Promise<AnchorBatch[]> {
    return this.#enqueue('all');
  }

  /** Stops the timers and waits for a running batch to finish. */
  async stop(): Promise<void> {
    this.#started = false;
    clearInterval(this.#timer);
    clearTimeout(this.#due);
    this.#timer = undefined;
    this.#due = undefined;
    await this.#queue.catch(() => {});
  }

  #enqueue(mode: RunMode): Promise<AnchorBatch[]> {
    const run = this.#queue.then(() => this.#run(mode));
    this.#queue = run.catch(() => {});
    return run;
  }

  async #run(mode: RunMode): Promise<AnchorBatch[]> {
    if (mode === 'full') this.#fullQueued = false;
    const built: AnchorBatch[] = [];
    const minLeaves = mode === 'full' ? this.maxLeaves : 1;
    for (;;) {
      const batch = await buildAnchorBatch(this.#db, this.#kind, { maxLeaves: this.maxLeaves, minLeaves });
      if (!batch) break;
      built.push(batch);
      this.#onBatch?.(batch);
      this.#pending = Math.max(0, this.#pending - batch.leafCount);
    }
    // Fewer than a full batch remain (in this process's view, which may include others' writes).
    if (mode === 'all') this.#pending = 0;
    else this.#pending = Math.min(this.#pending, this.maxLeaves - 1);
    return built;
  }
}
