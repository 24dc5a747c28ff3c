/** A zombie (exited, never reaped by its parent) has stopped for good: it runs no agents. */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { afterEach, expect, it } from 'vitest';
import { processAlive } from '../../../state/proc.js';
import { waitFor } from '../../helpers/agents.js';

let parent: ReturnType<typeof spawn> | null = null;
afterEach(() => {
  parent?.kill('SIGKILL');
  parent = null;
});

it('counts a running process as alive and a zombie as gone', async () => {
  // The shell starts a short child, then becomes `sleep`, which never reaps it.
  parent = spawn('/bin/sh', ['-c', 'sleep 0.3 & echo $!; exec sleep 30'], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const child = await new Promise<number>((resolve) =>
    parent!.stdout!.once('data', (d) => resolve(Number(String(d).trim()))),
  );
  expect(processAlive(parent.pid!)).toBe(true);
  await waitFor(() => {
    try {
      return fs.readFileSync(`/proc/${child}/stat`, 'utf8').includes(') Z');
    } catch {
      return false;
    }
  }, 10_000);
  expect(processAlive(child)).toBe(false);
});
