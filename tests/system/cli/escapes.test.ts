/**
 * Terminal escapes in CLI output (issue 20, L3): text a driven program chose (a checkpoint's step
 * and summary, a journal entry's op) must reach the terminal without control sequences, as it does
 * in the console, `task show` and `task list`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type Board, board, show } from '../../helpers/cli.js';

vi.setConfig({ testTimeout: 180_000 });

let b: Board;
beforeEach(() => {
  b = board();
});
afterEach(() => b.cleanup());

/** ESC, BEL and the C1 controls (U+0080–U+009F, U+009B being an 8-bit CSI). */
const CONTROL = /[\u0007\u001b\u0080-\u009f]/;

describe('escapes a driven program puts in its checkpoint', () => {
  it('never reach the terminal from checkpoint list or checkpoint show', () => {
    const line = JSON.stringify({
      checkpoint: {
        step: '\u001b]0;OWNED-TITLE\u0007\u001b[2J\u001b[31mRED\u009b31m',
        summary: 'sum\u009b2Jmary \u001b[31m',
      },
    });
    const script = path.join(b.dir, 'cp.js');
    fs.writeFileSync(script, `console.log(${JSON.stringify(`::dreamos ${line}`)});`);
    b.add('escapes', '--run', `node ${JSON.stringify(script)}`, '--role', 'agent-1');
    const run = b.run('run', '--until-idle', '--agents', 'agent-1');
    expect(run.code, show(run)).toBe(0);

    const list = b.run('checkpoint', 'list', '--agent', 'agent-1');
    expect(list.code, show(list)).toBe(0);
    expect(list.stdout).toMatch(/ RED /);
    const reported = b
      .json<Array<{ id: string; summary?: string }>>('checkpoint', 'list', '--agent', 'agent-1')
      .find((c) => c.summary?.startsWith('sum'))!;
    const cp = b.run('checkpoint', 'show', '--agent', 'agent-1', reported.id);
    const json = b.run('checkpoint', 'show', '--agent', 'agent-1', reported.id, '--json');
    for (const r of [list, cp, json]) {
      expect(r.code, show(r)).toBe(0);
      expect(r.stdout).not.toMatch(CONTROL);
    }
    // The JSON still says exactly what was recorded.
    const saved = JSON.parse(cp.stdout) as { step: string; summary: string };
    expect(saved.step).toBe('RED');
    expect(saved.summary).toBe('sum\u009b2Jmary \u001b[31m');
    expect(json.json<{ summary: string }>().summary).toBe(saved.summary);
  });

  it('a --step with control characters is refused (exit 2), not recorded', () => {
    const r = b.run('checkpoint', 'save', '--agent', 'agent-1', '--step', 'a\u001b[2Jb');
    expect(r.code, show(r)).toBe(2);
    expect(r.stderr).toMatch(/--step is one line of text/);
    expect(b.json<unknown[]>('checkpoint', 'list', '--agent', 'agent-1')).toEqual([]);
  });
});

/** Append a journal entry made by hand (with a valid checksum), after the last one. */
function appendEntry(dir: string, fields: (last: Record<string, unknown>) => Record<string, unknown>) {
  const segment = path.join(dir, '.dreamos', 'journal', '000001.jsonl');
  const lines = fs.readFileSync(segment, 'utf8').trimEnd().split('\n');
  const { crc: _crc, ...last } = JSON.parse(lines.at(-1)!) as Record<string, unknown>;
  const body = JSON.stringify({ ...last, ...fields(last), seq: (last.seq as number) + 1 });
  const crc = crc32(body).toString(16).padStart(8, '0');
  fs.appendFileSync(segment, `${body.slice(0, -1)},"crc":"${crc}"}\n`);
}

describe('hand-made journal entries', () => {
  it('dreamos log prints an op holding escapes without them', () => {
    // OSC 0 (window title), CSI 2J (clear), OSC 52 (clipboard write).
    appendEntry(b.dir, () => ({ op: 'x\u001b]0;T\u0007\u001b[2J\u001b]52;c;cGF3bmVk\u0007y' }));
    const log = b.run('log');
    expect(log.code, show(log)).toBe(0);
    expect(log.stdout).toMatch(/^\s+2\s.* xy /m);
    expect(log.stdout).not.toMatch(CONTROL);
  });

  it('agent show prints a checkpoint step recorded with escapes without them', () => {
    appendEntry(b.dir, (last) => ({
      op: 'checkpoint',
      by: 'agent-2',
      tasks: undefined,
      checkpoints: [
        {
          id: 'C-00009',
          agent: 'agent-2',
          task: null,
          step: '\u001b]0;OWNED\u0007\u001b[31mRED\u009b2J',
          progress: null,
          at: last.at,
          rev: (last.seq as number) + 1,
        },
      ],
      counters: { ...(last.counters as object), checkpoint: 9 },
    }));
    const agent = b.run('agent', 'show', 'agent-2');
    expect(agent.code, show(agent)).toBe(0);
    expect(agent.stdout).toContain('checkpoint C-00009 RED (-)');
    expect(agent.stdout).not.toMatch(CONTROL);
  });
});
