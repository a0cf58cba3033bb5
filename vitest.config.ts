import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'examples/**/*.test.ts'],
    pool: 'forks',
    // Starts a PostgreSQL of the run's own where none is given or running (test/support/global-postgres.ts).
    globalSetup: ['test/support/global-postgres.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    reporters: ['default'],
    coverage: {
      provider: 'v8',
      // Only the library counts: tests, benches and examples are the measuring stick, not the measured.
      include: ['src/**/*.ts'],
      reportsDirectory: 'coverage',
      // A run with a failing test still says what it reached: the figure is read beside the failures, not instead of them.
      reportOnFailure: true,
      // json-summary feeds the per-folder table (test/support/coverage-by-folder.mjs); html is for browsing what is missed.
      reporter: ['text-summary', 'json-summary', 'html'],
    },
  },
});
