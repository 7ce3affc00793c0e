import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // One migrated embedded database that every test's new PGlite database starts from.
    globalSetup: ['test/support/globalSetup.ts'],
    // Each file starts its own anvil / databases; two cores: keep parallelism modest.
    maxWorkers: 2,
    minWorkers: 1,
  },
});
