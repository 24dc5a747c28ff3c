/** What of a program's output reaches an attached terminal, and the detach key in what terminals send. */
import { describe, expect, it } from 'vitest';
import { TerminalFilter } from '../../../agents/sessions/filter.js';
import { findDetachKey, parseDetachKey } from '../../../agents/sessions/keys.js';
import { claudeHookSettings, hookNeedsInput, readNeedsInput } from '../../../agents/sessions/needs-input.js';
import { parseClientMessage } from '../../../agents/sessions/protocol.js';

const filtered = (...chunks: string[]) => {
  const filter = new TerminalFilter();
  return chunks.map((c) => filter.push(c)).join('');
};

describe('terminal filter', () => {
  it('keeps text, colours, cursor movement and the modes a full-screen program needs', () => {
    const drawing = 'a\x1b[31mred\x1b[0m\x1b[2;5H\x1b[K\x1b[?1049h\x1b[?2004h\x1b[?1000h\x1b(B\x1b7\x1b8é…';
    expect(filtered(drawing)).toBe(drawing);
  });

  it.each([
    ['device attributes', '\x1b[c', '\x1b[>c', '\x1b[=c', '\x1bZ'],
    ['status and cursor reports', '\x1b[5n', '\x1b[6n', '\x1b[?6n'],
    ['mode and version queries', '\x1b[?2004$p', '\x1b[>q', '\x1b[?u', '\x1b[?1;1S'],
    ['window operations', '\x1b[8;100;100t', '\x1b[21t'],
    ['titles and the clipboard', '\x1b]0;title\x07', '\x1b]2;title\x1b\\', '\x1b]52;c;cHduZWQ=\x07'],
    ['colour queries', '\x1b]11;?\x07'],
    ['device control and graphics', '\x1bP+q544e\x1b\\', '\x1b_Gf=100;AAAA\x1b\\', '\x9b6n', '\x9d0;t\x07'],
  ])('takes out %s', (_what, ...sequences) => {
    for (const sequence of sequences) expect(filtered(`a${sequence}b`)).toBe('ab');
  });

  it('keeps hyperlinks', () => {
    const link = '\x1b]8;;https://example.com\x1b\\link\x1b]8;;\x07';
    expect(filtered(link)).toBe(link);
  });

  it('follows a sequence split across chunks', () => {
    expect(filtered('a\x1b', '[6', 'n', 'b\x1b]', '52;c;', 'eA==', '\x1b', '\\c\x1b[3', '1m')).toBe(
      'abc\x1b[31m',
    );
  });

  it('drops an endless string without swallowing what follows it', () => {
    const out = filtered(`\x1b]52;c;${'A'.repeat(100_000)}\x07after`);
    expect(out).toBe('after');
  });
});

describe('detach key', () => {
  const key = parseDetachKey('ctrl-]')!;

  it('reads the usual spellings, and refuses keys a terminal cannot send as one byte', () => {
    expect(key).toEqual({ name: 'ctrl-]', byte: '\x1d', code: 93 });
    expect(parseDetachKey('C-b')?.byte).toBe('\x02');
    expect(parseDetachKey('^Q')?.name).toBe('ctrl-q');
    for (const bad of ['ctrl-[', 'alt-x', 'ctrl-1', 'q', '']) expect(parseDetachKey(bad)).toBeNull();
  });

  it.each([
    ['the control byte', 'ab\x1dcd', 2, 1],
    ['a kitty CSI u press', 'x\x1b[93;5u', 1, 7],
    ['a CSI u press with Num Lock on', '\x1b[93;133u', 0, 9],
    ['a CSI u press with its event type', '\x1b[93;5:1u', 0, 9],
    ['modifyOtherKeys', '\x1b[27;5;93~', 0, 10],
  ])('finds %s', (_what, data, index, length) => {
    expect(findDetachKey(data, key)).toEqual({ index, length });
  });

  it('ignores a release, another modifier and other keys', () => {
    for (const data of ['\x1b[93;5:3u', '\x1b[93;7u', '\x1b[93u', ']', '\x1b[94;5u', '\x1b[27;3;93~'])
      expect(findDetachKey(data, key)).toBeNull();
  });
});

describe('session protocol', () => {
  it('checks what a client sends', () => {
    expect(parseClientMessage('{"type":"hello","protocol":1,"mode":"read","stream":"screen"}')).toEqual({
      type: 'hello',
      protocol: 1,
      mode: 'read',
      stream: 'screen',
    });
    expect(parseClientMessage('{"type":"hello","protocol":2,"mode":"read","stream":"none"}')).toMatch(
      /protocol 2/,
    );
    expect(parseClientMessage('{"type":"resize","cols":0,"rows":10}')).toMatch(/resize needs/);
    expect(parseClientMessage('{"type":"input"}')).toMatch(/input needs/);
    expect(parseClientMessage('[1]')).toBe('not a JSON object');
    expect(parseClientMessage('nope')).toBe('not JSON');
  });
});

describe('what the bottom of a screen asks', () => {
  it.each([
    ['permission', ['Edit file src/a.ts', 'Do you want to make this edit to a.ts?', '❯ 1. Yes', '  2. No']],
    ['permission', ['Run `rm -rf build`? (y/n)']],
    ['permission', ['Allow the tool Bash to run `make`?']],
    ['question', ['I found two configs.', 'Which one should I change?', '']],
    ['prompt', ['Done: 3 files changed.', '╭────────╮', '│ >      │', '╰────────╯']],
    ['prompt', ['All tests pass.', '>']],
  ])('reads %s', (kind, lines) => {
    expect(readNeedsInput(lines)).toMatchObject({ kind });
  });

  it('reads nothing in work going on or a hint line', () => {
    for (const lines of [
      ['Reading files…', '⠋ Thinking (esc to interrupt)'],
      ['? for shortcuts'],
      [],
      ['', '  '],
    ])
      expect(readNeedsInput(lines)).toBeNull();
  });
});

describe('what a hook says', () => {
  it.each([
    [{ hook_event_name: 'Notification', message: 'Claude needs your permission to use Bash' }, 'permission'],
    [{ hook_event_name: 'Notification', message: 'Claude is waiting for your input' }, 'prompt'],
    [{ hook_event_name: 'PermissionRequest', tool_name: 'Edit' }, 'permission'],
    [{ hook_event_name: 'Stop' }, 'turn-ended'],
  ])('reads %j as %s', (event, kind) => {
    expect(hookNeedsInput(event)).toMatchObject({ kind });
  });

  it('reads work going on again as nothing waiting, and other events as saying nothing', () => {
    expect(hookNeedsInput({ hook_event_name: 'PreToolUse', tool_name: 'Bash' })).toBeNull();
    expect(hookNeedsInput({ hook_event_name: 'UserPromptSubmit' })).toBeNull();
    expect(hookNeedsInput({ hook_event_name: 'SessionStart' })).toBeUndefined();
  });

  it('writes settings whose hooks report through the dreamos command, quoted for a shell', () => {
    const settings = claudeHookSettings('/usr/bin/node', "/opt/it's/dreamos.js") as {
      hooks: Record<string, Array<{ hooks: Array<{ command: string }> }>>;
    };
    expect(Object.keys(settings.hooks)).toEqual(
      expect.arrayContaining(['Notification', 'Stop', 'PreToolUse']),
    );
    expect(settings.hooks.Stop![0]!.hooks[0]!.command).toBe(
      "'/usr/bin/node' '/opt/it'\\''s/dreamos.js' agent hook",
    );
  });
});
