/**
 * `dreamos log --follow` on a PostgreSQL workspace whose journal retention deletes entries the
 * follower has not read yet (it was stopped meanwhile): it says which entries it lost, as a line for
 * people and as an event with --json, then goes on with the entries that are left. Build first: the
 * CLI runs dist/.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { expect, it } from 'vitest';
import { openWorkspace, type Workspace } from '../../../src/workspace.js';
import { cleanupsAfterEach } from '../../helpers/cleanups.js';
import { describePg, postgresWorkspace, trimJournal } from '../../helpers/pg.js';
import { BIN, collectOutput } from '../../helpers/workspace.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describePg('log --follow after retention deleted entries it had not read', () => {
  const cleanups = cleanupsAfterEach();

  function follower(cwd: string, json: boolean) {
    const child: ChildProcess = spawn(
      process.execPath,
      [BIN, 'log', '--follow', ...(json ? ['--json'] : [])],
      { cwd },
    );
    const out = collectOutput(child);
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    cleanups.push(async () => {
      child.kill('SIGCONT');
      child.kill('SIGKILL');
      await exited;
    });
    return { child, out, exited };
  }

  async function waitFor(what: string, probe: () => boolean, stderr: () => string): Promise<void> {
    const deadline = Date.now() + 60_000;
    while (!probe()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${stderr()}`);
      await sleep(50);
    }
  }

  it('says which entries were lost, then goes on', async () => {
    const { home, schema } = await postgresWorkspace('dreamos_logfollow', cleanups);
    const ws: Workspace = await openWorkspace({ home, share: false });
    cleanups.push(() => ws.close());
    for (let i = 0; i < 3; i++) await ws.addTask({ title: `before ${i}` });
    const start = ws.view.seq;

    const json = follower(path.dirname(home), true);
    const text = follower(path.dirname(home), false);
    for (const f of [json, text])
      await waitFor('the follower', () => f.out.stderr().includes('following the journal'), f.out.stderr);

    // Both stop reading; meanwhile 20 changes are made and retention keeps only the last 5 entries.
    json.child.kill('SIGSTOP');
    text.child.kill('SIGSTOP');
    for (let i = 0; i < 20; i++) await ws.addTask({ title: `while stopped ${i}` });
    const trimmed = await trimJournal(schema, 5);
    const floor = trimmed.floor;
    expect(floor).toBe(start + 20 - 5);
    json.child.kill('SIGCONT');
    text.child.kill('SIGCONT');
    const last = await ws.addTask({ title: 'after' });
    const end = ws.view.seq;

    const jsonLines = () =>
      json.out
        .stdout()
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as { seq?: number; event?: string; from?: number; to?: number });
    await waitFor('the last entry', () => jsonLines().some((e) => e.seq === end), json.out.stderr);
    await waitFor('the last line', () => text.out.stdout().includes(last.id), text.out.stderr);
    json.child.kill('SIGINT');
    text.child.kill('SIGINT');
    expect(await json.exited).toBe(0);
    expect(await text.exited).toBe(0);

    // Every entry once, in order, with the lost range said where it is, before what follows it.
    const seen = jsonLines().map((e) => (e.event ? `${e.event} ${e.from}-${e.to}` : e.seq));
    const kept = Array.from({ length: end - floor }, (_, i) => floor + 1 + i);
    expect(seen).toEqual([
      ...Array.from({ length: start }, (_, i) => i + 1),
      `entries-lost ${start + 1}-${floor}`,
      ...kept,
    ]);
    const lostEvent = jsonLines().find((e) => e.event === 'entries-lost');
    expect(lostEvent).toEqual({ event: 'entries-lost', from: start + 1, to: floor, reason: 'retention' });

    const textLines = text.out.stdout().trimEnd().split('\n');
    expect(textLines).toHaveLength(start + 1 + kept.length);
    expect(textLines[start]).toBe(
      `-- entries ${start + 1} to ${floor} were deleted by the journal's retention before they were read; continuing from entry ${floor + 1}`,
    );
    expect(textLines.slice(start + 1).map((l) => Number(l.trim().split(/\s+/)[0]))).toEqual(kept);
  }, 120_000);
});
