/** Line splitting, the log cap, and stopping a process group by its id alone (restart recovery). */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LineSplitter, RunOutput } from '../../../agents/drivers/output.js';
import { groupAlive, stopProcessGroup } from '../../../agents/platform/process.js';
import { waitGone } from '../../helpers/agents.js';
import { tempDir } from '../../helpers/workspace.js';

let dir: string;
let cleanup: () => void;
beforeEach(() => {
  ({ dir, cleanup } = tempDir('dreamos-output-'));
});
afterEach(() => cleanup());

function split(chunks: string[], max = 1024) {
  const lines: { line: string; cut: boolean }[] = [];
  const splitter = new LineSplitter(max, (line, cut) => lines.push({ line: line.toString('utf8'), cut }));
  for (const chunk of chunks) splitter.push(Buffer.from(chunk));
  splitter.end();
  return lines;
}

describe('LineSplitter', () => {
  it('joins lines across chunks and strips CRLF, also when CR and LF arrive apart', () => {
    expect(split(['ab', 'c\r', '\nd\n', '\n', 'e']).map((l) => l.line)).toEqual(['abc', 'd', '', 'e']);
  });

  it('cuts an over-long line and skips its rest up to the newline', () => {
    const lines = split(['x'.repeat(10), 'y'.repeat(10), 'z\nnext\n'], 8);
    expect(lines).toEqual([
      { line: 'x'.repeat(8), cut: true },
      { line: 'next', cut: false },
    ]);
  });
});

describe('RunOutput', () => {
  it('writes lines to the log and onLine until the cap, then one marker', () => {
    const logPath = path.join(dir, 'logs', 'a', 'T.log');
    const seen: string[] = [];
    const output = new RunOutput({ logPath, onLine: (line) => seen.push(line) }, { maxLogBytes: 20 });
    for (let i = 0; i < 10; i++) output.line(`line ${i}`, 'stdout');
    output.note('still here');
    output.close();
    output.line('after close', 'stdout');
    expect(seen).toEqual([
      'line 0',
      'line 1',
      '[dreamos] output past 20 bytes dropped (log size cap)',
      '[dreamos] still here',
    ]);
    expect(fs.readFileSync(logPath, 'utf8')).toBe(`${seen.join('\n')}\n`);
    expect(output.capped).toBe(true);
    // The outcome's summary is the last line written, not the last one before the cap.
    expect(output.last.stdout).toBe('line 9');
  });

  it('never appends through a link planted in place of the log or of the agent folder', () => {
    const victim = path.join(dir, 'victim.txt');
    fs.writeFileSync(victim, 'precious\n');
    const elsewhere = path.join(dir, 'elsewhere');
    fs.mkdirSync(elsewhere);
    const logs = path.join(dir, 'ws', '.dreamos', 'logs');
    fs.mkdirSync(path.join(logs, 'agent-1'), { recursive: true });
    fs.symlinkSync(victim, path.join(logs, 'agent-1', 'T-00001.log'));
    fs.symlinkSync(elsewhere, path.join(logs, 'agent-2'));
    for (const logPath of [
      path.join(logs, 'agent-1', 'T-00001.log'),
      path.join(logs, 'agent-2', 'T-00001.log'),
    ]) {
      const seen: string[] = [];
      const output = new RunOutput({ logPath, onLine: (line) => seen.push(line) });
      output.line('task output', 'stdout');
      output.close();
      expect(seen[0]).toMatch(
        /^\[dreamos\] cannot write the log .*: (it is a symbolic link, which is never followed|.* is a symbolic link, not a folder: .*); this run is not logged$/,
      );
      expect(seen.slice(1)).toEqual(['task output']);
    }
    expect(fs.readFileSync(victim, 'utf8')).toBe('precious\n');
    expect(fs.readdirSync(elsewhere)).toEqual([]);
    // A log of its own is created for the user alone.
    const own = path.join(logs, 'agent-3', 'T-00001.log');
    const output = new RunOutput({ logPath: own, onLine: () => undefined });
    output.line('hi', 'stdout');
    output.close();
    expect(fs.readFileSync(own, 'utf8')).toBe('hi\n');
    expect(fs.statSync(own).mode & 0o777).toBe(0o600);
  });

  it('survives an onLine consumer that throws', () => {
    const output = new RunOutput({
      logPath: path.join(dir, 'x.log'),
      onLine: () => {
        throw new Error('boom');
      },
    });
    expect(() => output.line('hello', 'stdout')).not.toThrow();
    output.close();
  });
});

describe('stopProcessGroup', () => {
  it('stops a group known only by its id, grandchildren included', async () => {
    const child = spawn('/bin/sh', ['-c', 'sleep 300 & echo $!; wait'], {
      detached: true,
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const grandchild = await new Promise<number>((resolve) =>
      child.stdout.once('data', (data) => resolve(Number(String(data).trim()))),
    );
    expect(groupAlive(child.pid!)).toBe(true);
    expect(await stopProcessGroup(child.pid!, { graceMs: 1000 })).toBe(true);
    expect(groupAlive(child.pid!)).toBe(false);
    expect(await waitGone([child.pid!, grandchild])).toEqual([]);
  });

  it('refuses to signal group 0 or 1', () => {
    expect(() => groupAlive(1)).toThrow();
    expect(() => groupAlive(0)).toThrow();
  });
});
