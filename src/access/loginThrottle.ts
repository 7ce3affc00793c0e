/**
 * Password guessing is slowed per account and per network address, and the scrypt work it can
 * cause is bounded for the whole node.
 *
 * - **Per account** (known or not: the answer never tells which usernames exist): after
 *   {@link ACCOUNT_FREE_FAILURES} consecutive failures, each further attempt must wait twice as
 *   long as the last (1 s, 2 s, 4 s ... up to {@link MAX_LOCK_MS}); a success clears it.
 * - **Per address**: the same after {@link ADDRESS_FREE_FAILURES} failures from one address (many
 *   usernames from one place).
 * - **Node-wide**: at most one password hash runs at a time and at most {@link HASHES_PER_SECOND}
 *   start per second (a token bucket), so logins never take more than that share of one core
 *   (~0.4 s of scrypt each on these machines); an attempt that would wait longer than
 *   {@link MAX_QUEUE_MS} is turned away at once.
 *
 * An attempt turned away costs no hash and is answered 429 with when to try again. In memory,
 * per node process; a restart forgets it (the rate limit per address on the route stays).
 */

export const ACCOUNT_FREE_FAILURES = 5;
export const ADDRESS_FREE_FAILURES = 20;
export const MAX_LOCK_MS = 15 * 60_000;
export const HASHES_PER_SECOND = 3;
export const MAX_QUEUE_MS = 10_000;
const MAX_TRACKED = 50_000;

interface Failures {
  count: number;
  /** Unix ms before which the next attempt is turned away. */
  until: number;
}

export type LoginAdmission =
  /** `release(undefined)`: the password was not checked (an error), nothing is recorded. */
  { ok: true; release: (succeeded: boolean | undefined) => void } | { ok: false; retryAfterMs: number };

export class LoginThrottle {
  readonly #accounts = new Map<string, Failures>();
  readonly #addresses = new Map<string, Failures>();
  readonly #now: () => number;
  /** When the next hash may start (token bucket of one, refilled at HASHES_PER_SECOND). */
  #nextHashAt = 0;
  #running: Promise<void> = Promise.resolve();

  readonly #hashesPerSecond: number;
  readonly #maxQueueMs: number;

  constructor(options: { now?: () => number; hashesPerSecond?: number; maxQueueMs?: number } = {}) {
    this.#now = options.now ?? Date.now;
    this.#hashesPerSecond = options.hashesPerSecond ?? HASHES_PER_SECOND;
    this.#maxQueueMs = options.maxQueueMs ?? MAX_QUEUE_MS;
  }

  /**
   * Waits for this attempt's turn to hash, or says how long to wait. `release(succeeded)` records
   * the outcome once the password was checked.
   */
  async admit(username: string, address: string): Promise<LoginAdmission> {
    const now = this.#now();
    const account = this.#accounts.get(username.toLowerCase());
    const place = this.#addresses.get(address);
    const lockedUntil = Math.max(account?.until ?? 0, place?.until ?? 0);
    if (lockedUntil > now) return { ok: false, retryAfterMs: lockedUntil - now };
    const startAt = Math.max(now, this.#nextHashAt);
    if (startAt - now > this.#maxQueueMs) return { ok: false, retryAfterMs: startAt - now };
    this.#nextHashAt = startAt + 1000 / this.#hashesPerSecond;
    // One hash at a time, in arrival order, each no earlier than its slot.
    const previous = this.#running;
    let done!: () => void;
    this.#running = new Promise((resolve) => {
      done = resolve;
    });
    await previous;
    const wait = startAt - this.#now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    return {
      ok: true,
      release: (succeeded) => {
        done();
        if (succeeded !== undefined) this.#record(username.toLowerCase(), address, succeeded);
      },
    };
  }

  #record(username: string, address: string, succeeded: boolean): void {
    if (succeeded) {
      this.#accounts.delete(username);
      return;
    }
    this.#fail(this.#accounts, username, ACCOUNT_FREE_FAILURES);
    this.#fail(this.#addresses, address, ADDRESS_FREE_FAILURES);
  }

  #fail(map: Map<string, Failures>, key: string, free: number): void {
    if (map.size >= MAX_TRACKED && !map.has(key)) map.delete(map.keys().next().value as string);
    const entry = map.get(key) ?? { count: 0, until: 0 };
    entry.count++;
    if (entry.count > free)
      entry.until = this.#now() + Math.min(MAX_LOCK_MS, 1000 * 2 ** (entry.count - free - 1));
    map.set(key, entry);
  }
}
