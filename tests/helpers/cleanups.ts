import { afterEach } from 'vitest';

/**
 * Clean-ups a test registers as it goes (a workspace to close, a folder to remove), run after each
 * test of the describe that calls this, the last registered first, whether the test passed or not.
 */
export function cleanupsAfterEach(): Array<() => unknown> {
  const cleanups: Array<() => unknown> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  return cleanups;
}
