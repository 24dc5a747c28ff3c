/**
 * Typed commands in the palette, marking tasks and acting on them at once, sorting and jumping:
 * driven one key at a time, checked on screen, in the workspace and in its journal.
 */
import { afterEach, describe, expect, test } from 'vitest';
import type { Workspace } from '../../../src/workspace.js';
import { KeyCommand } from '../../../ui/keymap.js';
import { cleanupAll, type Harness, open } from '../../helpers/ui.js';

afterEach(cleanupAll);

async function failed(ws: Workspace, title: string, tags: string[] = []) {
  const t = await ws.addTask({ title, run: 'false', maxAttempts: 1, tags });
  await ws.claim('agent-2', { taskId: t.id });
  return ws.fail(t.id, { agent: 'agent-2', reason: 'exit 1', final: true });
}

/** The journal entries written after `seq`. */
async function entriesAfter(ws: Workspace, seq: number) {
  const { entries } = await ws.history.tail(100);
  return entries.filter((e) => e.seq > seq);
}

async function palette(h: Harness, text: string) {
  await h.run(KeyCommand.Palette);
  await h.waitFor((f) => f.includes('Commands'), 'the palette');
  await h.type(text);
}

describe('typed commands', () => {
  test('complete from live data, confirm with the count, and land as one journal entry', async () => {
    const h = await open();
    const a = await failed(h.ws, 'first');
    const b = await failed(h.ws, 'second');
    const other = await h.ws.addTask({ title: 'still ready' });
    await palette(h, 'ret');
    await h.press('tab');
    await h.waitFor((f) => f.includes(': retry ') && f.includes(':retry [QUERY]'), 'the command completed');
    await h.type('st');
    await h.press('tab');
    await h.waitFor((f) => f.includes(': retry status:'), 'the field completed');
    await h.type('fa');
    await h.waitFor((f) => f.includes('status:failed'), 'the stage offered');
    await h.press('tab');
    await h.waitFor((f) => f.includes(': retry status:failed '), 'the stage completed');
    const before = h.ws.view.seq;
    await h.press('enter');
    await h.waitFor((f) => f.includes('Retry: 2 tasks?') && f.includes(a.id), 'the confirmation');
    await h.press('y');
    await h.waitFor((f) => f.includes('retry: 2 tasks changed in one step'), 'the outcome');
    h.ws.refresh();
    const entries = await entriesAfter(h.ws, before);
    expect(entries).toHaveLength(1);
    expect(entries[0]!.op).toBe('retry');
    expect(entries[0]!.tasks?.map((p) => p.task.id).sort()).toEqual([a.id, b.id].sort());
    expect(h.ws.getTask(other.id).history).toEqual(other.history);
  });

  test('a bad command line says why in the palette and does nothing', async () => {
    const h = await open();
    await h.ws.addTask({ title: 'alpha' });
    const before = h.ws.view.seq;
    await palette(h, 'filter colour:red');
    await h.press('enter');
    await h.waitFor(
      (f) => f.includes('error: unknown field "colour" (one of status, role, tag, agent, priority, id)'),
      'the parse error',
    );
    await h.press('ctrl-u');
    await h.type('add "unclosed');
    await h.waitFor((f) => f.includes('error: a quote " is not closed'), 'the quote error');
    await h.press('ctrl-u');
    await h.type('priority urgent');
    await h.press('enter');
    await h.waitFor((f) => f.includes('error: unknown priority "urgent"'), 'the priority error');
    await h.press('ctrl-u');
    await h.type('add "x" --colour red');
    await h.press('enter');
    await h.waitFor(
      (f) => f.includes("error: add: unknown option '--colour' (--role, --priority, --tag, --run, --prompt)"),
      'the option error',
    );
    await h.press('ctrl-u');
    await h.type('pause agent-99');
    await h.press('enter');
    await h.waitFor((f) => f.includes('error: no agent agent-99'), 'the agent error');
    expect(h.ws.view.seq).toBe(before);
  });

  test('add with options, pause an agent, filter and sort by typing', async () => {
    const h = await open();
    await palette(h, 'add "Fix the login bug" --role test');
    await h.press('tab');
    await h.waitFor((f) => f.includes('--role testing '), 'the role completed');
    await h.press('enter');
    await h.waitFor((f) => f.includes('added (ready)'), 'the task added');
    expect(h.ws.listTasks()).toMatchObject([{ title: 'Fix the login bug', role: 'testing' }]);

    await palette(h, 'pause 3');
    await h.press('enter');
    await h.waitFor((f) => f.includes(': paused'), 'the agent paused');
    expect(h.ws.agentStates()[2]).toMatchObject({ id: 'agent-3', status: 'paused' });

    await h.ws.addTask({ title: 'Polish', role: 'ux' });
    await palette(h, 'filter status:ready role:ux');
    await h.press('enter');
    await h.waitFor((f) => f.includes('filter "status:ready role:ux": 1 of 2'), 'the board filtered');
    await palette(h, 'sort age');
    await h.press('enter');
    await h.waitFor((f) => f.includes('sorted oldest first'), 'the board sorted');
  });

  test('? lists the typed form of the commands beside their keys', async () => {
    const h = await open();
    await h.run(KeyCommand.Help);
    await h.waitFor((f) => f.includes('Keys'), 'the help');
    for (let i = 0; i < 120 && !h.frame().includes(':pause|resume [AGENT]'); i++) await h.press('j');
    const frame = await h.waitFor(
      (f) => f.includes(':pause|resume [AGENT]'),
      'the typed commands in the help',
    );
    expect(frame).toMatch(/P\s+pause or resume the agent\s+:pause\|resume \[AGENT\]/);
  });
});

describe('marked tasks', () => {
  test('space marks, the action asks with the count, Cancel does nothing, and refusals are named', async () => {
    const h = await open();
    const a = await failed(h.ws, 'first');
    const b = await failed(h.ws, 'second');
    await h.run(KeyCommand.ViewBoard);
    await h.run(KeyCommand.Right); // ready → working
    await h.run(KeyCommand.Right); // → review
    await h.run(KeyCommand.Right); // → done
    await h.run(KeyCommand.Right); // → failed
    await h.waitFor((f) => f.includes('failed 1/2'), 'the failed column');
    await h.press('space');
    await h.press('space');
    await h.waitFor((f) => f.includes('2 marked') && f.includes(`✓${a.id}`), 'two marks');
    expect(h.frame()).toContain('2 tasks · 2 marked · 0 open alerts');
    await h.run(KeyCommand.TaskRetry);
    await h.waitFor((f) => f.includes('Retry: 2 tasks?'), 'the confirmation');
    const before = h.ws.view.seq;
    await h.press('enter'); // Cancel has the focus
    await h.waitFor((f) => !f.includes('Retry: 2 tasks?'), 'the confirmation closed');
    expect(h.ws.view.seq).toBe(before);
    // A task that cannot take the change is reported, and stays marked.
    const ready = await h.ws.addTask({ title: 'ready one' });
    for (let i = 0; i < 4; i++) await h.run(KeyCommand.Left); // failed → done → review → working → ready
    await h.waitFor((f) => f.includes(`ready 1/1 ${ready.id}`), 'the ready column');
    await h.press('space');
    await h.waitFor((f) => f.includes('3 marked'), 'three marks');
    await h.run(KeyCommand.TaskRetry);
    await h.waitFor((f) => f.includes('Retry: 3 tasks?'), 'the confirmation');
    await h.press('y');
    await h.waitFor((f) => f.includes('retry: 2 tasks changed in one step; 1 could not'), 'the outcome');
    expect(h.frame()).toContain(`${ready.id} is ready`);
    expect(h.frames().some((f) => f.includes('⏳ retry: 3 tasks'))).toBe(true);
    h.ws.refresh();
    expect(await entriesAfter(h.ws, before)).toHaveLength(2); // the add, then the one retry
    expect([a.id, b.id].map((id) => h.ws.getTask(id).status)).toEqual(['ready', 'ready']);
    await h.waitFor((f) => f.includes('1 marked'), 'the refused task still marked');
    await h.run(KeyCommand.MarkClear);
    await h.waitFor((f) => !f.includes('marked   ') && !f.includes('1 marked'), 'the marks cleared');
  });

  test('* marks what the filter shows; cancel and move them in one confirmed step each', async () => {
    const h = await open();
    const flaky = [
      await h.ws.addTask({ title: 'one', tags: ['flaky'] }),
      await h.ws.addTask({ title: 'two', tags: ['flaky'] }),
    ];
    const kept = await h.ws.addTask({ title: 'three' });
    await h.run(KeyCommand.ViewBoard);
    await h.run(KeyCommand.Filter);
    await h.type('tag:flaky');
    await h.press('enter');
    await h.waitFor((f) => f.includes('filter "tag:flaky": 2 of 3'), 'the filter');
    await h.run(KeyCommand.MarkMatching);
    await h.waitFor((f) => f.includes('2 tasks matching "tag:flaky" marked'), 'the marks');
    await h.run(KeyCommand.TaskMove);
    await h.waitFor((f) => f.includes('Move 2 marked tasks to'), 'the stage picker');
    await h.press('enter'); // backlog
    await h.waitFor((f) => f.includes('Move to backlog: 2 tasks?'), 'the confirmation');
    await h.press('y');
    await h.waitFor((f) => f.includes('move to backlog: 2 tasks changed'), 'the move');
    expect(flaky.map((t) => h.ws.getTask(t.id).status)).toEqual(['backlog', 'backlog']);
    await h.run(KeyCommand.MarkMatching);
    await h.run(KeyCommand.TaskCancel);
    await h.waitFor((f) => f.includes('Cancel: 2 tasks?'), 'the confirmation');
    const before = h.ws.view.seq;
    await h.press('y');
    await h.waitFor((f) => f.includes('cancel: 2 tasks changed in one step'), 'the cancel');
    h.ws.refresh();
    const entries = await entriesAfter(h.ws, before);
    expect(entries.map((e) => [e.op, e.tasks?.length])).toEqual([['cancel', 2]]);
    expect(h.ws.getTask(kept.id).status).toBe('ready');
  });
});

describe('sorting and jumping', () => {
  test('s sorts the board, n and N walk the matches across stages, @ goes to an agent by number', async () => {
    const h = await open();
    const old = await h.ws.addTask({ title: 'old low', priority: 'low' });
    const urgent = await h.ws.addTask({ title: 'new urgent', priority: 'critical' });
    const held = await h.ws.addTask({ title: 'held', hold: true });
    await h.run(KeyCommand.ViewBoard);
    await h.waitFor((f) => f.includes(`ready 1/2 ${urgent.id}`), 'priority order');
    await h.run(KeyCommand.SortNext);
    await h.waitFor((f) => f.includes(`sorted oldest first`), 'the age order');
    await h.run(KeyCommand.Top);
    await h.waitFor((f) => f.includes(`ready 1/2 ${old.id}`), 'the oldest first');
    await h.run(KeyCommand.MatchNext);
    await h.waitFor((f) => f.includes(`ready 2/2 ${urgent.id}`), 'the next match');
    await h.run(KeyCommand.MatchNext);
    // Past the last ready task, on to the next stage that has one (around the end: the backlog).
    await h.waitFor((f) => f.includes(`backlog 1/1 ${held.id}`), 'the next stage with a match');
    await h.run(KeyCommand.MatchPrev);
    await h.waitFor((f) => f.includes(`ready 2/2 ${urgent.id}`), 'back to the last ready task');
    // In the task view, space marks the task shown and says so.
    await h.run(KeyCommand.Open);
    await h.waitFor((f) => f.includes(`${urgent.id}  new urgent`), 'the task view');
    await h.press('space');
    await h.waitFor((f) => f.includes(`${urgent.id} marked (1 marked)`), 'the mark said');
    await h.run(KeyCommand.JumpAgent);
    await h.type('3');
    await h.press('enter');
    const { name } = h.ws.config.agents[2]!;
    await h.waitFor((f) => f.includes(`${name} agent-3 ·`), 'agent 3');
  });
});

describe('the board filter', () => {
  test('a filter that is not a query says why on the board', async () => {
    const h = await open();
    await h.ws.addTask({ title: 'alpha' });
    await h.run(KeyCommand.ViewBoard);
    await h.run(KeyCommand.Filter);
    await h.type('status:limbo');
    await h.waitFor((f) => f.includes('error: unknown stage "limbo"'), 'the error on the board');
    await h.press('ctrl-u');
    await h.type('status:ready alpha');
    await h.waitFor((f) => f.includes('filter "status:ready alpha": 1 of 1'), 'the query applied');
  });
});

describe('the cursor after a bulk change', () => {
  test('stays at its place without saying its task left, when the change took it away', async () => {
    const h = await open();
    const a = await h.ws.addTask({ title: 'one' });
    const b = await h.ws.addTask({ title: 'two' });
    await h.run(KeyCommand.ViewBoard);
    await h.waitFor((f) => f.includes(`ready 1/2 ${a.id}`), 'the ready column');
    await h.press('space');
    await h.press('space');
    await h.waitFor((f) => f.includes(`ready 2/2 ${b.id}`) && f.includes('2 marked'), 'both marked');
    await h.run(KeyCommand.TaskCancel);
    await h.waitFor((f) => f.includes('Cancel: 2 tasks?'), 'the confirmation');
    await h.press('y');
    await h.waitFor((f) => f.includes('cancel: 2 tasks changed in one step'), 'the outcome');
    const frame = await h.waitFor((f) => f.includes('READY (0)'), 'the column emptied');
    expect(frame).not.toContain('has left');
  });
});
