import { defineConfig } from 'vitest/config';

/**
 * Two projects. `unit` runs in-process tests (pure functions, the console through
 * ink-testing-library, a workspace in a temporary folder) with every core. `system` drives real
 * processes (the CLI, crash and concurrency campaigns, the writer, the console in tmux): it runs
 * after `unit`, at two files at a time, so that its campaigns do not starve each other.
 */
export default defineConfig({
  test: {
    setupFiles: ['tests/helpers/setup.ts'],
    // Hands the PostgreSQL suites CI as the run started and prints their one "skipped" line.
    globalSetup: ['tests/helpers/pg-run.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    reporters: ['default', ['json', { outputFile: 'tests/.results.json' }]],
    projects: [
      {
        extends: true,
        test: { name: 'unit', include: ['tests/unit/**/*.test.{ts,tsx}'], sequence: { groupOrder: 0 } },
      },
      {
        extends: true,
        test: {
          name: 'system',
          include: ['tests/system/**/*.test.{ts,tsx}'],
          maxWorkers: 2,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
