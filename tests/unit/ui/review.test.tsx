/**
 * The console's review and diff views, driven with ink-testing-library on a real git repository
 * in a temporary folder: scripted agents change files on their tasks' branches (`dreamos run
 * --until-idle`), then the operator reads the review list and the diffs, approves and rejects.
 */
import { spawn } from 'node:child_process';
import { afterEach, describe, expect, test } from 'vitest';
import { openWorkspace, type Workspace } from '../../../src/workspace.js';
import type { Task } from '../../../state/schemas.js';
import { KeyCommand } from '../../../ui/keymap.js';
import { type CodeRepo, codeRepo } from '../../helpers/code-repo.js';
import { cleanupAll, open } from '../../helpers/ui.js';
import { BIN } from '../../helpers/workspace.js';

let repo: CodeRepo | undefined;
let ws: Workspace | undefined;
afterEach(async () => {
  await cleanupAll();
  await ws?.close().catch(() => undefined);
  ws = undefined;
  repo?.cleanup();
  repo = undefined;
});

/** Five files changed (one longer than a page); one line carries terminal escape sequences (colour, a window title, a clear). */
const FIVE_FILES = [
  'printf "one\\n" > a.txt',
  'printf "two\\n" > b.txt',
  "printf 'evil \\033[31mred\\033[0m \\033]0;owned\\007 \\033[2J end\\n' > c.txt",
  'printf "hello\\nworld\\n" > README',
  'seq 1 80 > n.txt',
].join(' && ');

/** Two code tasks of the agent `coder`, run until they wait for review. */
async function twoInReview(): Promise<{ first: Task; second: Task }> {
  repo = codeRepo();
  const first = repo.add('Five files', FIVE_FILES);
  const second = repo.add('One file', 'printf "x\\n" > d.txt');
  const run = repo.run('run', '--until-idle');
  expect(run.code, run.stderr).toBe(0);
  expect(repo.task(first.id).status).toBe('review');
  expect(repo.task(second.id).status).toBe('review');
  ws = await openWorkspace({ home: repo.home });
  return { first, second };
}

describe('review and diff in the console', () => {
  test('the review list, the diff with [ and ], escapes stripped, approve from the diff', async () => {
    const { first, second } = await twoInReview();
    const h = await open({ ws: ws!, dir: repo!.dir });
    // The dashboard's pane and the attention lines say the work waits for review.
    await h.waitFor((f) => f.includes(`· ${second.id} waiting for review`), 'the pane saying so');
    expect(h.frame()).toMatch(/waiting review/);

    await h.run(KeyCommand.ViewReview);
    let frame = await h.waitFor(
      (f) => f.includes('Review: 0 merging · 0 queued · 2 waiting'),
      'the review view',
    );
    expect(frame).toContain(first.id);
    expect(frame).toContain(second.id);
    expect(frame).toContain('no gate');

    // The cursor is on the oldest (first) task: enter opens its diff.
    await h.press('enter');
    frame = await h.waitFor(
      (f) => f.includes(`Diff of ${first.id}`) && f.includes('files changed'),
      'the diff',
    );
    expect(frame).toContain('5 files changed, +84 −0');
    expect(frame).toMatch(/\+1\s+−0\s+a\.txt/);
    expect(frame).toMatch(/\+80\s+−0\s+n\.txt/);

    await h.run(KeyCommand.DiffNextFile);
    await h.waitFor((f) => f.includes('file 1/5 README'), 'the first file');
    await h.run(KeyCommand.DiffNextFile);
    await h.waitFor((f) => f.includes('file 2/5 a.txt'), 'the second file');
    await h.run(KeyCommand.DiffPrevFile);
    await h.waitFor((f) => f.includes('file 1/5 README'), 'back to the first file');
    for (let i = 0; i < 3; i++) await h.run(KeyCommand.DiffNextFile);
    frame = await h.waitFor((f) => f.includes('file 4/5 c.txt'), 'the file with escape sequences');
    // Shown, stripped: no colour, window title or screen clear of the file's own reaches the terminal.
    expect(frame).toMatch(/\+evil red +end/);
    const raw = h.raw();
    expect(raw).not.toContain('owned');
    expect(raw).not.toContain('\u001b[31m');
    expect(raw).not.toContain('\u001b[2J');
    await h.run(KeyCommand.Bottom);
    await h.waitFor((f) => f.includes('file 5/5 n.txt'), 'the last page');
    await h.run(KeyCommand.DiffNextFile);
    await h.waitFor((f) => f.includes('this is the last file'), 'no file after the last');

    await h.run(KeyCommand.ReviewApprove);
    await h.waitFor((f) => f.includes(`${first.id} approved: it joins the merge queue`), 'the approval');
    expect(repo!.task(first.id).code?.stage).toBe('approved');
    await h.run(KeyCommand.Back);
    frame = await h.waitFor((f) => f.includes('0 merging · 1 queued · 1 waiting'), 'the queue');
    expect(frame).toMatch(/queued\s+T-\w+/);
  });

  test('reject with a note (required) from the review view, opened from the palette: back to ready, the note in its context', async () => {
    const { second } = await twoInReview();
    const h = await open({ ws: ws!, dir: repo!.dir });
    // The view is in the palette too.
    await h.run(KeyCommand.Palette);
    await h.type('review');
    await h.waitFor((f) => f.includes('review: code tasks waiting for review'), 'the palette entry');
    await h.press('enter');
    await h.waitFor((f) => f.includes('2 waiting'), 'the review view');
    await h.run(KeyCommand.Down);
    await h.run(KeyCommand.ReviewReject);
    await h.waitFor((f) => f.includes(`Reject ${second.id}`), 'the rejection form');
    await h.press('enter');
    await h.waitFor((f) => f.includes('a rejection needs a note'), 'the refusal of an empty note');
    expect(repo!.task(second.id).status).toBe('review');
    await h.type('handle the empty list too');
    await h.press('enter');
    await h.waitFor((f) => f.includes(`${second.id} rejected: back to ready`), 'the rejection');
    const task = repo!.task(second.id);
    expect(task.status).toBe('ready');
    expect(task.code?.last).toMatchObject({ reason: 'rejected', text: 'handle the empty list too' });
    await h.waitFor((f) => f.includes('Review: 0 merging · 0 queued · 1 waiting'), 'one left');
  });

  test('from the task detail: d opens the diff, X rejects; a read-only console cannot', async () => {
    const { first } = await twoInReview();
    const h = await open({ ws: ws!, dir: repo!.dir });
    await h.run(KeyCommand.ViewBoard);
    // The board's review column: move right from ready (backlog, ready, working, review).
    await h.run(KeyCommand.Right);
    await h.run(KeyCommand.Right);
    await h.waitFor((f) => f.includes('review 1/2'), 'the review column');
    await h.press('enter');
    const detail = await h.waitFor((f) => f.includes(`${first.id}  Five files`), 'the task detail');
    expect(detail).toMatch(/branch\s+dreamos\/T-\w+ → main\s+waiting for review/);
    await h.run(KeyCommand.ReviewDiff);
    await h.waitFor((f) => f.includes(`Diff of ${first.id}`) && f.includes('5 files changed'), 'its diff');
    await h.run(KeyCommand.Back);
    await h.run(KeyCommand.ReviewReject);
    await h.waitFor((f) => f.includes(`Reject ${first.id}`), 'the rejection form');
    await h.type('split it');
    await h.press('enter');
    await h.waitFor((f) => f.includes(`${first.id} rejected`), 'the rejection');
    expect(repo!.task(first.id).code?.last?.text).toBe('split it');
    await h.waitFor((f) => /came back\s+rejected \S+ by operator: split it/.test(f), 'why, in the detail');
    await h.close();

    const ro = await open({ ws: ws!, dir: repo!.dir, readOnly: true });
    await ro.run(KeyCommand.ViewReview);
    await ro.waitFor((f) => f.includes('1 waiting'), 'the review view, read-only');
    await ro.run(KeyCommand.ReviewApprove);
    await ro.waitFor((f) => f.includes('hidden in a read-only console'), 'the refusal');
    expect(repo!.task(first.id).status).toBe('ready');
  });

  test('a long merge shows its step and gate; a conflict shows on the pane and in the inbox', async () => {
    repo = codeRepo({ review: { gate: 'sleep 3' } });
    const first = repo.add('Say one', 'printf "one\\n" > same.txt');
    const second = repo.add('Say two', 'printf "two\\n" > same.txt');
    expect(repo.run('run', '--until-idle').code).toBe(0);
    for (const t of [first, second]) expect(repo.run('review', 'approve', t.id).code).toBe(0);
    ws = await openWorkspace({ home: repo.home });
    const h = await open({ ws, dir: repo.dir });
    await h.run(KeyCommand.ViewReview);
    await h.waitFor((f) => f.includes('0 merging · 2 queued · 0 waiting'), 'the queue');

    const queue = spawn(process.execPath, [BIN, 'merge', 'run'], {
      cwd: repo.dir,
      env: { ...process.env, ...repo.env },
      stdio: 'ignore',
    });
    const exited = new Promise<number | null>((resolve) => queue.on('exit', (code) => resolve(code)));
    // The durations are drawn again every second: the gate shows as running for some seconds.
    const frame = await h.waitFor(
      (f) => /merging [1-9]\d*s · gate T-\w+ running [1-9]\d*s by tester/.test(f),
      'the gate in progress',
      20_000,
    );
    expect(frame).toContain('1 merging · 1 queued');
    // The second conflicts with the first once the first is merged: `merge run` exits 4.
    expect(await exited).toBe(4);
    await h.run(KeyCommand.ViewDashboard);
    const dashboard = await h.waitFor(
      (f) => f.includes(`· ${second.id} merge conflict`),
      'the pane saying merge conflict',
    );
    expect(dashboard).toMatch(/merge conflict\s+T-\w+\s+Say two: its branch conflicts with main: same\.txt/);
  }, 60_000);
});
