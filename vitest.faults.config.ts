/**
 * `npm run test:faults`: the fault tests of test/faults, each repeated many times
 * (MEDLEDGER_FAULT_ITERATIONS, default 10 here; the default suite runs each once).
 */
import { defineConfig } from 'vitest/config';

process.env.MEDLEDGER_FAULT_ITERATIONS ??= '10';

export default defineConfig({
  test: {
    include: ['test/faults/**/*.test.ts'],
    testTimeout: 3_600_000,
    hookTimeout: 300_000,
    pool: 'forks',
    // One migrated embedded database that every test's new PGlite database starts from.
    globalSetup: ['test/support/globalSetup.ts'],
    // Each fault test kills and restarts processes and databases: one at a time.
    maxWorkers: 1,
    minWorkers: 1,
  },
});
