/**
 * The node-wide bound of the login throttle: password hashes run one at a time, no more often
 * than the configured rate, and an attempt that would wait longer than the queue allows is
 * turned away at once (no hash).
 */
import { describe, expect, it } from 'vitest';
import { LoginThrottle } from './loginThrottle.ts';

describe('login throttle, node-wide', () => {
  it('admits one hash at a time, spaced by the rate, and turns away what would wait too long', async () => {
    const throttle = new LoginThrottle({
      hashesPerSecond: 20,
      maxQueueMs: 180,
      now: () => performance.now(),
    });
    const before = performance.now();
    let running = 0;
    let most = 0;
    const started: number[] = [];
    const attempts = Array.from({ length: 8 }, async (_, i) => {
      const turn = await throttle.admit(`user-${i}`, `10.0.0.${i}`);
      if (!turn.ok) return turn.retryAfterMs;
      running++;
      most = Math.max(most, running);
      started.push(performance.now());
      await new Promise((r) => setTimeout(r, 5)); // the hash
      running--;
      turn.release(false);
      return 0;
    });
    const results = await Promise.all(attempts);
    expect(most).toBe(1);
    // 20 a second: one slot every 50 ms; a queue of 180 ms holds the first four, the rest wait too long.
    expect(results.filter((r) => r === 0)).toHaveLength(4);
    expect(results.filter((r) => r > 180)).toHaveLength(4);
    // Each hash starts no earlier than its slot (the first at once, then every 50 ms). Measured from
    // before the first attempt, not between neighbours: a loaded machine may start one hash late,
    // and the next then starts on its own slot, closer than 50 ms to the late one. Timers may fire
    // up to a millisecond early.
    for (const [i, at] of started.entries()) expect(at - before).toBeGreaterThanOrEqual(50 * i - 1.5);
  });
});
