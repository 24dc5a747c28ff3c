import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts', 'tests/**/*.test.tsx'],
    setupFiles: ['tests/helpers/setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Crash and concurrency suites start many real processes: keep files from starving each other.
    maxWorkers: 2,
    reporters: ['default', ['json', { outputFile: 'tests/.results.json' }]],
  },
});
