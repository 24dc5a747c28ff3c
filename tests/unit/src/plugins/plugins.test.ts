/**
 * Plugins in a real workspace (src/plugins/): loaded from .dreamos/plugins/, fed events made from
 * the workspace's journal through a fake event source. A plugin that throws or hangs is switched
 * off with an alert while the others, and this process, go on; a bad or untrusted one is refused.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type DreamEvent, eventOf } from '../../../../src/events.js';
import { initWorkspace, type Workspace } from '../../../../src/index.js';
import type { EventSource } from '../../../../src/notify/types.js';
import { startPlugins } from '../../../../src/plugins/index.js';
import { tempDir } from '../../../helpers/workspace.js';

/** What the plugins under test record, by test: they run in this process. */
interface Seen {
  events: Record<string, string[]>;
  batches: Record<string, string[][]>;
  imported: string[];
}
const seen = () => (globalThis as unknown as { __pluginTest: Seen }).__pluginTest;

let tmp: ReturnType<typeof tempDir>;
let ws: Workspace;
let logs: string[];
let listeners: Set<(e: DreamEvent) => void>;
const source: EventSource = {
  subscribe(fn) {
    listeners.add(fn);
    return () => listeners.delete(fn);
  },
};

beforeEach(async () => {
  tmp = tempDir();
  ws = await initWorkspace({ dir: tmp.dir });
  fs.mkdirSync(path.join(ws.home, 'plugins'), { mode: 0o700 });
  logs = [];
  listeners = new Set();
  (globalThis as unknown as { __pluginTest: Seen }).__pluginTest = { events: {}, batches: {}, imported: [] };
});
afterEach(async () => {
  await ws.close();
  tmp.cleanup();
});

function plugin(file: string, source: string, mode = 0o600): void {
  const at = path.join(ws.home, 'plugins', file);
  fs.writeFileSync(
    at,
    `const seen = globalThis.__pluginTest;\nseen.imported.push(${JSON.stringify(file)});\n${source}`,
  );
  fs.chmodSync(at, mode);
}

/** A plugin whose onEvent records the ids of the events it is given. */
const recorder = (name: string) => `export default {
  name: '${name}',
  version: '1.0.0',
  onEvent(event) { (seen.events['${name}'] ??= []).push(event.id); },
};`;

/** Make changes in the workspace and hand their events to the plugins. */
async function happen(n: number): Promise<string[]> {
  const start = ws.view.seq;
  for (let i = 0; i < n; i++) await ws.addTask({ title: `task ${i}`, role: 'agent-1' });
  const events: DreamEvent[] = [];
  await ws.history.forEach((entry) => {
    if (entry.seq > start) events.push(eventOf(entry));
  });
  for (const event of events) for (const listener of listeners) listener(event);
  return events.map((e) => e.id);
}

const start = () =>
  startPlugins(ws, source, { timeoutMs: 300, notify: { windowMs: 20 }, log: (line) => logs.push(line) });

const pluginAlerts = () => {
  ws.refresh();
  return ws.alerts().filter((a) => a.kind === 'plugin');
};

describe('plugins', () => {
  it('switches off a plugin that throws, with an alert, while the others go on', async () => {
    plugin(
      'thrower.mjs',
      `export default { name: 'thrower', version: '1.0.0', onEvent() { (seen.events.thrower ??= []).push('x'); throw new Error('boom'); } };`,
    );
    plugin('recorder.mjs', recorder('recorder'));
    const running = await start();
    const first = await happen(2);
    await running.idle();
    const second = await happen(1);
    await running.idle();
    running.stop();

    expect(seen().events.recorder).toEqual([...first, ...second]);
    expect(seen().events.thrower).toEqual(['x']);
    const thrower = running.host.reports.find((r) => r.name === 'thrower')!;
    expect(thrower).toMatchObject({ state: 'off', reason: 'onEvent threw: boom' });
    expect(running.host.reports.find((r) => r.name === 'recorder')!.state).toBe('on');
    expect(pluginAlerts()).toEqual([
      expect.objectContaining({
        subject: 'thrower',
        status: 'open',
        severity: 'warning',
        message: 'plugin thrower switched off: onEvent threw: boom',
      }),
    ]);
    expect(logs).toContain('dreamos: plugin thrower switched off: onEvent threw: boom');
  });

  it('switches off a plugin that hangs, once its call runs past the timeout', async () => {
    plugin(
      'hanger.mjs',
      `export default { name: 'hanger', version: '1.0.0', onEvent() { (seen.events.hanger ??= []).push('x'); return new Promise(() => {}); } };`,
    );
    // One that gives up only once told to stop, by failing: nothing is left to catch that.
    plugin(
      'late.mjs',
      `export default { name: 'late', version: '1.0.0', onEvent(event, { signal }) {
        return new Promise((_, reject) => signal.addEventListener('abort', () => setTimeout(() => {
          (seen.events.late ??= []).push('rejected');
          reject(new Error('too late'));
        }, 5)));
      } };`,
    );
    plugin('recorder.mjs', recorder('recorder'));
    const running = await start();
    const ids = await happen(3);
    await running.idle();
    running.stop();
    for (const deadline = Date.now() + 10_000; !seen().events.late && Date.now() < deadline; )
      await new Promise((resolve) => setTimeout(resolve, 10));
    expect(seen().events.late).toEqual(['rejected']);
    expect(running.host.reports.find((r) => r.name === 'late')!.state).toBe('off');
    expect(seen().events.hanger).toEqual(['x']);
    expect(seen().events.recorder).toEqual(ids);
    expect(running.host.reports.find((r) => r.name === 'hanger')).toMatchObject({
      state: 'off',
      reason: 'onEvent ran past its 300 ms timeout',
    });
    expect(
      pluginAlerts()
        .map((a) => a.subject)
        .sort(),
    ).toEqual(['hanger', 'late']);
  });

  it('refuses a bad definition with its reason and an alert, and loads the rest', async () => {
    plugin('bad.mjs', `export default { name: 'bad', version: '1.0.0', onevent() {} };`);
    plugin('nameless.mjs', `export default { version: '1.0.0' };`);
    plugin('nodefault.mjs', `export const name = 'x';`);
    plugin(
      'badwords.mjs',
      `export default { name: 'w', version: '1', notifiers: [{ name: 'n', events: ['task.typo'], notify() {} }] };`,
    );
    plugin('recorder.mjs', recorder('recorder'));
    const running = await start();
    running.stop();
    const byFile = Object.fromEntries(running.host.reports.map((r) => [path.basename(r.from), r]));
    expect(byFile['bad.mjs']).toMatchObject({
      state: 'refused',
      reason: expect.stringMatching(/^its definition is wrong: .*onevent/),
    });
    expect(byFile['nameless.mjs']).toMatchObject({
      state: 'refused',
      reason: expect.stringMatching(/^its definition is wrong: name: /),
    });
    expect(byFile['nodefault.mjs']).toMatchObject({
      state: 'refused',
      reason: expect.stringMatching(/no default export/),
    });
    expect(byFile['badwords.mjs']).toMatchObject({
      state: 'refused',
      reason: expect.stringMatching(/notifiers\.0\.events: unknown event type "task\.typo"/),
    });
    expect(byFile['recorder.mjs']!.state).toBe('on');
    expect(
      pluginAlerts()
        .map((a) => a.message)
        .sort(),
    ).toEqual([
      expect.stringMatching(/^plugin \.dreamos\/plugins\/bad\.mjs not loaded: its definition is wrong/),
      expect.stringMatching(/^plugin \.dreamos\/plugins\/badwords\.mjs not loaded/),
      expect.stringMatching(/^plugin \.dreamos\/plugins\/nameless\.mjs not loaded/),
      expect.stringMatching(/^plugin \.dreamos\/plugins\/nodefault\.mjs not loaded/),
    ]);
  });

  it('raises one alert per plugin however often it is refused', async () => {
    plugin('bad.mjs', `export default { name: 'bad' };`);
    (await start()).stop();
    (await start()).stop();
    expect(pluginAlerts()).toEqual([expect.objectContaining({ count: 2, status: 'open' })]);
  });

  it('refuses, without running it, a plugin file others may write, or one in a folder others may write', async () => {
    plugin('open.mjs', recorder('open'), 0o646);
    plugin('group.mjs', recorder('group'), 0o620);
    const running = await start();
    running.stop();
    expect(seen().imported).toEqual([]);
    expect(running.host.reports.map((r) => [r.from, r.state, r.reason])).toEqual([
      [
        '.dreamos/plugins/group.mjs',
        'refused',
        expect.stringMatching(/^its group may write in it \(mode 620\)/),
      ],
      [
        '.dreamos/plugins/open.mjs',
        'refused',
        expect.stringMatching(/^every user may write in it \(mode 646\)/),
      ],
    ]);

    fs.chmodSync(path.join(ws.home, 'plugins', 'open.mjs'), 0o600);
    fs.chmodSync(path.join(ws.home, 'plugins'), 0o777);
    const again = await start();
    again.stop();
    expect(seen().imported).toEqual([]);
    expect(again.host.reports.find((r) => r.from.endsWith('open.mjs'))!.reason).toMatch(
      /every user may write in its folder .*plugins \(mode 777\)/,
    );
  });

  it("feeds a plugin's notifier the events it asks for, in batches", async () => {
    plugin(
      'notes.mjs',
      `export default {
        name: 'notes',
        version: '1.0.0',
        notifiers: [{ name: 'created', events: ['task.created'], notify(batch) { (seen.batches.created ??= []).push(batch.map((e) => e.type)); } }],
      };`,
    );
    const running = await start();
    await happen(5);
    await running.idle();
    running.stop();
    expect(seen().batches.created).toEqual([Array(5).fill('task.created')]);
    expect(running.host.reports[0]).toMatchObject({ name: 'notes', state: 'on', notifiers: ['created'] });
  });

  it("checks what a plugin's source returns, and switches off one that returns garbage", async () => {
    plugin(
      'src.mjs',
      `export default {
        name: 'src',
        version: '1.0.0',
        sources: [
          { id: 'good', fetch: () => [{ key: 'k1', title: 'Fix the docs', url: 'https://example.com/1', score: 3 }] },
          { id: 'failing', fetch: async () => { throw new Error('offline'); } },
        ],
      };
      export const later = 1;`,
    );
    plugin(
      'garbage.mjs',
      `export default { name: 'garbage', version: '1', sources: [{ id: 'g', fetch: () => [{ title: 42 }] }] };`,
    );
    const running = await start();
    const sources = running.host.sources();
    expect(sources.map((s) => `${s.plugin}/${s.id}`)).toEqual(['garbage/g', 'src/good', 'src/failing']);
    await expect(sources[1]!.fetch()).resolves.toEqual([
      { key: 'k1', title: 'Fix the docs', url: 'https://example.com/1', score: 3 },
    ]);
    // A failed run is the caller's to count; the plugin stays on.
    await expect(sources[2]!.fetch()).rejects.toThrow('offline');
    expect(running.host.reports.find((r) => r.name === 'src')!.state).toBe('on');
    await expect(sources[0]!.fetch()).rejects.toThrow(/source g returned what is not a list of items/);
    await running.idle();
    running.stop();
    expect(running.host.reports.find((r) => r.name === 'garbage')!.state).toBe('off');
    expect(pluginAlerts().map((a) => a.subject)).toEqual(['garbage']);
  });
});
