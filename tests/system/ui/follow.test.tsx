/**
 * The board cursor follows the task the operator saw, not a row number: another process adds a
 * task above it or takes it out of the column, and a key still acts on the task that was
 * highlighted, or on nothing until pressed again.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { afterEach, describe, expect, test } from 'vitest';
import type { Task } from '../../../state/schemas.js';
import { KeyCommand } from '../../../ui/keymap.js';
import { cleanupAll, type Harness, open } from '../../helpers/ui.js';
import { BIN } from '../../helpers/workspace.js';

afterEach(cleanupAll);

const bin = process.env.DREAMOS_TEST_BIN ?? BIN;

/** `dreamos …` run by another process in the console's workspace. */
function outside(h: Harness, ...args: string[]): Task {
  if (!fs.existsSync(bin)) throw new Error('build first: node scripts/build.mjs --no-types');
  const r = spawnSync(process.execPath, [bin, ...args, '--json'], { cwd: h.dir, encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as Task;
}

/** Three held tasks, the board open on the backlog column. */
async function backlog() {
  const h = await open();
  const ids: string[] = [];
  for (const title of ['First', 'Second', 'Third']) ids.push((await h.ws.addTask({ title, hold: true })).id);
  await h.run(KeyCommand.ViewBoard);
  await h.run(KeyCommand.Left);
  await h.waitFor((f) => f.includes(`backlog 1/3 ${ids[0]}`), 'the backlog column');
  return { h, ids: ids as [string, string, string] };
}

describe('the board cursor follows its task', () => {
  test('a task added above by another process: the keys act on the task that was highlighted', async () => {
    const { h, ids } = await backlog();
    await h.run(KeyCommand.Down);
    await h.waitFor((f) => f.includes(`backlog 2/3 ${ids[1]}`), 'the second task selected');
    const urgent = outside(h, 'task', 'add', 'Urgent', '--hold', '--priority', 'critical');
    // The new task sorts first: the cursor moves down with the task it was on.
    await h.waitFor((f) => f.includes('Urgent') && f.includes(`backlog 3/4 ${ids[1]}`), 'the cursor on it');
    await h.run(KeyCommand.TaskPriorityUp);
    await h.waitFor((f) => f.includes(`${ids[1]} is now high`), 'the priority flash');
    await h.run(KeyCommand.TaskPromote);
    await h.waitFor((f) => f.includes(`${ids[1]} promoted to ready`), 'the promote flash');
    expect(h.ws.getTask(ids[1]).status).toBe('ready');
    for (const id of [ids[0], ids[2], urgent.id]) expect(h.ws.getTask(id).status).toBe('backlog');
    expect(h.ws.getTask(ids[0]).priority).toBe('normal');
  });

  test('a cursor never moved stays on the task it showed', async () => {
    const { h, ids } = await backlog();
    outside(h, 'task', 'add', 'Urgent', '--hold', '--priority', 'critical');
    await h.waitFor((f) => f.includes('Urgent') && f.includes(`backlog 2/4 ${ids[0]}`), 'the cursor on it');
    await h.run(KeyCommand.TaskPromote);
    await h.waitFor((f) => f.includes(`${ids[0]} promoted to ready`), 'the promote flash');
    expect(
      h.ws
        .listTasks()
        .filter((t) => t.status === 'ready')
        .map((t) => t.id),
    ).toEqual([ids[0]]);
  });

  test('its task taken out of the column: the cursor moves to a neighbour and the first key only says so', async () => {
    const { h, ids } = await backlog();
    await h.run(KeyCommand.Down);
    await h.waitFor((f) => f.includes(`backlog 2/3 ${ids[1]}`), 'the second task selected');
    outside(h, 'task', 'promote', ids[1]);
    await h.waitFor(
      (f) => f.includes(`backlog 2/2 ${ids[2]}`) && f.includes(`${ids[1]} has left backlog`),
      'the neighbour, and why',
    );
    await h.run(KeyCommand.TaskPriorityUp);
    await h.waitFor(
      (f) => f.includes(`${ids[1]} has left this list (it is ready now); press again to act on ${ids[2]}`),
      'the warning',
    );
    expect(h.ws.getTask(ids[2]).priority).toBe('normal');
    await h.run(KeyCommand.TaskPriorityUp);
    await h.waitFor((f) => f.includes(`${ids[2]} is now high`), 'the priority flash');
  });

  test('its task moved down, then taken out: the cursor stays at its last row, on the neighbour there', async () => {
    const { h, ids } = await backlog();
    // Two tasks sort above the one under the cursor: it moves from the first row to the third.
    outside(h, 'task', 'add', 'Urgent one', '--hold', '--priority', 'critical');
    outside(h, 'task', 'add', 'Urgent two', '--hold', '--priority', 'critical');
    await h.waitFor(
      (f) => f.includes('Urgent two') && f.includes(`backlog 3/5 ${ids[0]}`),
      'the cursor on it',
    );
    outside(h, 'task', 'promote', ids[0]);
    // Its last row is the third: the task there now is the one that was below it.
    await h.waitFor(
      (f) => f.includes(`backlog 3/4 ${ids[1]}`) && f.includes(`${ids[0]} has left backlog`),
      'the neighbour at its last row, and why',
    );
  });

  test('the attention list: an alert ranked above the selected row, and `A` still acknowledges that row', async () => {
    const h = await open();
    const alert = (n: number, severity: 'warning' | 'critical', subject: string) => ({
      id: `A-0000${n}`,
      kind: 'overrun' as const,
      severity,
      status: 'open' as const,
      key: `overrun:${subject}`,
      subject,
      message: `${subject} is slow`,
      evidence: {},
      action: 'none',
      count: 1,
      createdAt: new Date().toISOString(),
      updatedAt: new Date().toISOString(),
      rev: 0,
    });
    const raise = (n: number, severity: 'warning' | 'critical', subject: string) =>
      h.ws.apply(() => ({
        change: {
          op: 'test-alert',
          by: 'test',
          counters: { alert: n },
          alerts: [alert(n, severity, subject)],
        },
        result: undefined,
      }));
    await raise(1, 'warning', 'first-thing');
    await raise(2, 'warning', 'second-thing');
    await h.run(KeyCommand.ViewAlerts);
    await h.waitFor(
      (f) => f.includes('first-thing is slow') && f.includes('second-thing is slow'),
      'two rows',
    );
    // The newest first: the last row is the first alert.
    await h.run(KeyCommand.Bottom);
    await h.waitFor((f) => /▶.*first-thing/.test(f), 'the last row selected');
    // Another change ranks a critical alert first: the cursor stays on its row.
    await raise(3, 'critical', 'urgent-thing');
    await h.waitFor((f) => /▶.*first-thing/.test(f) && f.includes('urgent-thing'), 'the cursor on its row');
    await h.run(KeyCommand.AlertAck);
    await h.waitFor((f) => f.includes('A-00001 acknowledged'), 'the ack');
    expect(h.ws.alerts().map((a) => [a.id, a.status])).toEqual([
      ['A-00001', 'acknowledged'],
      ['A-00002', 'open'],
      ['A-00003', 'open'],
    ]);
  });
});
