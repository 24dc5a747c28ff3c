import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { helpBar, helpLines, keyTable } from '../../../ui/help.js';
import {
  BINDINGS,
  commandsFor,
  disabledReason,
  KeyCommand,
  type KeyContext,
  lookup,
  type Scope,
  scopesFor,
  TOP_VIEWS,
  type ViewId,
} from '../../../ui/keymap.js';
import { paletteItems } from '../../../ui/palette.js';

const VIEWS: ViewId[] = [...TOP_VIEWS, 'agent', 'task', 'log'];
const ctx = (over: Partial<KeyContext> = {}): KeyContext => ({
  view: 'board',
  readOnly: false,
  task: { id: 'T-00001', status: 'backlog', priority: 'normal' },
  agent: null,
  canOpen: true,
  alerts: [],
  logTask: null,
  ...over,
});

describe('the keymap', () => {
  test('every command has a binding with keys and a description', () => {
    for (const command of Object.values(KeyCommand)) {
      const bindings = BINDINGS.filter((b) => b.command === command);
      expect(bindings.length, command).toBeGreaterThan(0);
      for (const b of bindings) {
        expect(b.keys.length, command).toBeGreaterThan(0);
        expect(b.description.length, command).toBeGreaterThan(3);
      }
    }
  });

  test('no key means two things in one place (a view with the global keys, or a dialog)', () => {
    const chains: Scope[][] = [
      ...VIEWS.map((v) => scopesFor(v, null)),
      ...(['help', 'palette', 'confirm', 'form', 'filter', 'picker', 'message', 'editor'] as const).map((d) =>
        scopesFor('board', d),
      ),
    ];
    for (const chain of chains) {
      const owner = new Map<string, KeyCommand>();
      for (const scope of chain) {
        for (const b of BINDINGS.filter((x) => x.scopes.includes(scope))) {
          for (const key of b.keys) {
            const before = owner.get(key);
            expect(
              before === undefined || before === b.command,
              `${key} in ${chain.join('>')}: ${before} and ${b.command}`,
            ).toBe(true);
            owner.set(key, b.command);
          }
        }
      }
    }
  });

  test('dangerous commands change state and are hidden in read-only mode', () => {
    const dangerous = BINDINGS.filter((b) => b.dangerous).map((b) => b.command);
    expect(dangerous).toEqual(
      expect.arrayContaining([
        KeyCommand.TaskCancel,
        KeyCommand.AgentRestart,
        KeyCommand.AgentResetContext,
        KeyCommand.AgentStopTask,
      ]),
    );
    for (const b of BINDINGS.filter((x) => x.dangerous)) expect(b.mutates).toBe(true);
    const readOnly = commandsFor(ctx({ readOnly: true })).map((b) => b.command);
    expect(readOnly).not.toContain(KeyCommand.TaskCancel);
    expect(readOnly).not.toContain(KeyCommand.TaskAdd);
    expect(readOnly).toContain(KeyCommand.Quit);
  });

  test('the documented keys: j/k and arrows, tab and 1-5, enter, esc, /, :, ?, q', () => {
    const at = (key: string, view: ViewId = 'board') => lookup(scopesFor(view, null), key)?.command;
    expect([at('j'), at('down'), at('k'), at('up')]).toEqual([
      KeyCommand.Down,
      KeyCommand.Down,
      KeyCommand.Up,
      KeyCommand.Up,
    ]);
    expect([at('tab'), at('1'), at('2'), at('3'), at('4'), at('5')]).toEqual([
      KeyCommand.NextView,
      KeyCommand.ViewDashboard,
      KeyCommand.ViewBoard,
      KeyCommand.ViewAlerts,
      KeyCommand.ViewJournal,
      KeyCommand.ViewMetrics,
    ]);
    expect([at('enter'), at('esc'), at('/'), at(':'), at('?'), at('q')]).toEqual([
      KeyCommand.Open,
      KeyCommand.Back,
      KeyCommand.Filter,
      KeyCommand.Palette,
      KeyCommand.Help,
      KeyCommand.Quit,
    ]);
    expect(at('P', 'dashboard')).toBe(KeyCommand.AgentPauseResume);
    expect(at('P', 'board')).toBeUndefined();
  });

  test('enabled-when explains why a command cannot run now', () => {
    const promote = BINDINGS.find((b) => b.command === KeyCommand.TaskPromote)!;
    expect(disabledReason(promote, ctx())).toBeNull();
    expect(
      disabledReason(promote, ctx({ task: { id: 'T-00001', status: 'ready', priority: 'normal' } })),
    ).toMatch(/only a backlog task/);
    expect(disabledReason(promote, ctx({ task: null }))).toBe('select a task first');
    expect(disabledReason(promote, ctx({ readOnly: true }))).toMatch(/read-only/);
  });

  test('the help bar, the help overlay, the palette and the docs/console.md table all come from it', () => {
    const bar = helpBar(ctx(), 200);
    expect(bar).toContain('p promote');
    expect(bar).toMatch(/\? help {2}q quit$/);
    expect(helpBar(ctx(), 40)).toMatch(/\? help {2}q quit$/);
    expect(helpBar(ctx({ readOnly: true }), 200)).not.toContain('promote');

    const lines = helpLines(ctx());
    for (const b of BINDINGS) expect(lines.some((l) => l.text === b.description)).toBe(true);
    expect(lines.find((l) => l.text.startsWith('cancel the task'))?.dangerous).toBe(true);
    expect(helpLines(ctx({ readOnly: true })).some((l) => l.text.startsWith('cancel the task'))).toBe(false);

    const palette = paletteItems(ctx(), 'prom');
    expect(palette.map((p) => p.binding.command)).toEqual([KeyCommand.TaskPromote]);
    const disabled = paletteItems(ctx({ task: null }), 'retry');
    expect(disabled[0]?.disabled).toBe('select a task first');

    const table = keyTable();
    for (const b of BINDINGS) expect(table).toContain(b.description);
    expect(table).toContain('dangerous: asks first');
  });

  test('docs/console.md holds the current key table (node scripts/keys-table.mjs --write)', () => {
    const doc = fs.readFileSync(path.join(import.meta.dirname, '../../../docs/console.md'), 'utf8');
    const start = '<!-- keys:start -->';
    const end = '<!-- keys:end -->';
    expect(doc.slice(doc.indexOf(start) + start.length, doc.indexOf(end))).toBe(`\n${keyTable()}\n`);
  });
});
