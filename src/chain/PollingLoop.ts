/**
 * A background loop that runs a step, then sleeps until the next poll or until woken
 * (`wake()`), and stops cleanly: `stop()` resolves once the running step has finished.
 * A step that reports it did work runs again at once; one that reports `'busy'` (work under way
 * elsewhere, such as transactions waiting to be mined) runs again after the short `busyIntervalMs`;
 * failures go to `onError` and the loop carries on at the next poll.
 */
export class PollingLoop {
  readonly #step: () => Promise<boolean | 'busy' | undefined | void>;
  readonly #busyIntervalMs: number;
  readonly #intervalMs: number;
  readonly #onError: ((error: unknown) => void) | undefined;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #stopped = true;
  #wake: (() => void) | undefined;

  constructor(
    step: () => Promise<boolean | 'busy' | undefined | void>,
    intervalMs: number,
    onError?: (error: unknown) => void,
    busyIntervalMs = intervalMs,
  ) {
    this.#step = step;
    this.#intervalMs = intervalMs;
    this.#busyIntervalMs = busyIntervalMs;
    this.#onError = onError;
  }

  /** Whether the loop is started (and not stopped). */
  get running(): boolean {
    return !this.#stopped;
  }

  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    this.#running = this.#loop();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.wake();
    if (this.#timer) clearTimeout(this.#timer);
    await this.#running;
  }

  /** Runs the next step now rather than at the next poll. */
  wake(): void {
    this.#wake?.();
  }

  async #loop(): Promise<void> {
    while (!this.#stopped) {
      let sleepMs = this.#intervalMs;
      try {
        const outcome = await this.#step();
        if (outcome === true) continue;
        if (outcome === 'busy') sleepMs = Math.min(this.#busyIntervalMs, this.#intervalMs);
      } catch (error) {
        this.#onError?.(error);
      }
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        this.#timer = setTimeout(resolve, sleepMs);
      });
    }
  }
}
