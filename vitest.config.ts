import { defineConfig } from 'vitest/config';

/**
 * Two projects: `unit` needs no PostgreSQL and runs in seconds (test/unit/);
 * `integration` runs against a real server the global setup starts (or
 * OASYS_TEST_DATABASE_URL), each file in its own database.
 */
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          pool: 'threads',
          // First, on its own: seconds, and a broken planner stops the suite before any server work.
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/**/*.test.ts'],
          exclude: ['test/unit/**'],
          globalSetup: ['test/harness/globalSetup.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
          // Two cores: files run two at a time, each in its own database.
          fileParallelism: true,
          maxWorkers: 2,
          pool: 'forks',
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
