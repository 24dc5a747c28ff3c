/**
 * Which tasks a driver kind can work on, as one pure rule per kind: the drivers answer `accepts`
 * with it, and the attention inbox asks it to say why nobody can take a task (without loading the
 * drivers themselves).
 */

import type { Task } from '../../state/schemas.js';
import { BUILT_IN_KINDS, type BuiltInDriver } from './config.js';

/** A plugin's kind answers at run time (its `accepts`): from the configuration alone, it may take any. */
export function driverAccepts(driver: { kind: string }, task: Task): boolean {
  if (!BUILT_IN_KINDS.includes(driver.kind)) return true;
  switch (driver.kind as BuiltInDriver['kind']) {
    case 'shell':
      // A shell driver runs the task's own command; a prompt alone gives it nothing to run.
      return typeof task.run === 'string' && task.run.trim() !== '';
    case 'llm':
      return task.title.trim() !== '';
    case 'command':
    case 'pty':
      return true;
    case 'sim':
      // Simulated work starts no process: a task with a `run` command would be marked done unrun.
      return !task.run?.trim();
  }
}
