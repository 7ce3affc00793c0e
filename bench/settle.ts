/**
 * Between benchmark sections: lets the work one section leaves behind finish before the next is
 * timed. The PostgreSQL server writes out what a section inserted (a checkpoint now, rather than
 * in the middle of the next section) and its autovacuum workers finish; then this process waits
 * until the machine's CPUs are mostly idle for a second. Bounded: after a minute it goes on and
 * says so. (What mattered more for the sections after the 100,000-version verify was running
 * each section in its own process: bench/run.ts.)
 */
import { cpus } from 'node:os';
import pg from 'pg';

const DATABASE_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const LIMIT_MS = 60_000;

export async function settle(log: (line: string) => void): Promise<void> {
  const deadline = Date.now() + LIMIT_MS;
  const client = new pg.Client({ connectionString: DATABASE_URL });
  const connected = await client.connect().then(
    () => true,
    () => false,
  );
  try {
    if (connected) {
      await client.query('CHECKPOINT').catch(() => {});
      while (Date.now() < deadline) {
        const { rows } = await client.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_stat_activity
           WHERE backend_type = 'autovacuum worker' OR (state = 'active' AND pid <> pg_backend_pid())`,
        );
        if ((rows[0]?.n ?? 0) === 0) break;
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
  } finally {
    if (connected) await client.end().catch(() => {});
  }
  while (Date.now() < deadline) {
    if ((await idleShare(1000)) >= 0.9) return;
  }
  log('bench: the machine did not settle within a minute; measuring anyway');
}

/** The share of CPU time all cores spent idle over `ms`. */
async function idleShare(ms: number): Promise<number> {
  const before = cpus();
  await new Promise((resolve) => setTimeout(resolve, ms));
  const after = cpus();
  let idle = 0;
  let total = 0;
  after.forEach((cpu, i) => {
    const was = before[i]?.times;
    if (!was) return;
    for (const key of Object.keys(cpu.times) as (keyof typeof cpu.times)[]) {
      const delta = cpu.times[key] - was[key];
      total += delta;
      if (key === 'idle') idle += delta;
    }
  });
  return total > 0 ? idle / total : 1;
}
