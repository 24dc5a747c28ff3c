/**
 * The process layer's exit hook: it is installed when the first process group is tracked and
 * removed with the last, never as a side effect of importing the module.
 */
import { expect, it } from 'vitest';

it('installs its exit hook with the first tracked group and removes it with the last', async () => {
  const exitHooks = () => process.listeners('exit').length;
  const before = exitHooks();
  const { trackGroup, untrackGroup } = await import('../../../agents/platform/process.js');
  expect(exitHooks()).toBe(before);
  // Group ids no process of ours uses: only the bookkeeping is exercised, nothing is signalled.
  trackGroup(999_991);
  trackGroup(999_992);
  expect(exitHooks()).toBe(before + 1);
  untrackGroup(999_991);
  expect(exitHooks()).toBe(before + 1);
  untrackGroup(999_992);
  expect(exitHooks()).toBe(before);
});
