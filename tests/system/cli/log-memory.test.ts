/**
 * `dreamos log` streams the journal: its peak memory (the process's largest resident set, as the
 * kernel counts it) does not grow with the size of the segment it reads. It is measured on one
 * workspace at about 15 MB and again at about 60 MB of journal: a reader that loaded the segment
 * whole would need the 45 MB more at least, once for the bytes and again for the text. (Compared
 * with a tiny journal it is not: the runtime's young generation grows to its full size as soon as
 * entries are read at speed, whatever their number.)
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Journal } from '../../../state/journal.js';
import { workspacePaths } from '../../../state/paths.js';
import { BIN, cli, ROOT, tempDir } from '../../helpers/workspace.js';

const PRELOAD = path.join(ROOT, 'tests', 'helpers', 'peak-rss.cjs');
const MB = 1024 * 1024;

let tmp: ReturnType<typeof tempDir>;
let dir: string;
let appended = 0;

beforeAll(() => {
  tmp = tempDir('dreamos-log-memory-');
  dir = path.join(tmp.dir, 'ws');
  fs.mkdirSync(dir);
  expect(cli(['init'], { cwd: dir }).code).toBe(0);
}, 60_000);
afterAll(() => tmp.cleanup());

const segmentSize = () => fs.statSync(path.join(dir, '.dreamos', 'journal', '000001.jsonl')).size;

/** Entries of a few kilobytes each (a config copy is journaled whole), appended as a writer would. */
function growTo(bytes: number): void {
  const journal = new Journal(workspacePaths(path.join(dir, '.dreamos')));
  journal.readNew(
    () => {},
    () => {},
  );
  const config = { padding: 'x'.repeat(4000) };
  const counters = { task: 0, alert: 0, mail: 0, checkpoint: 0 };
  while (journal.pos.offset < bytes) {
    journal.append({ at: new Date().toISOString(), by: 'operator', op: 'config', counters, config }, false);
    appended++;
  }
  journal.syncAppended();
  journal.close();
}

/** Run `dreamos log` with its output thrown away; returns its peak resident memory in bytes. */
function peakOfLog(args: string[]): number {
  const report = path.join(tmp.dir, `peak-${segmentSize()}-${args.join('')}.txt`);
  const devNull = fs.openSync('/dev/null', 'w');
  try {
    const r = spawnSync(process.execPath, [BIN, 'log', ...args], {
      cwd: dir,
      env: { ...process.env, NODE_OPTIONS: `--require ${PRELOAD}`, DREAMOS_TEST_PEAK_RSS: report },
      stdio: ['ignore', devNull, 'pipe'],
      encoding: 'utf8',
      timeout: 120_000,
      killSignal: 'SIGKILL',
    });
    expect(r.status, r.stderr).toBe(0);
  } finally {
    fs.closeSync(devNull);
  }
  // One line per node process the command ran; the largest is the one that read the journal.
  return Math.max(...fs.readFileSync(report, 'utf8').trim().split('\n').map(Number)) * 1024;
}

describe('dreamos log over a large segment', () => {
  it('holds a bounded part of the segment in memory, never the segment whole', () => {
    const runs = [[], ['--json'], ['--limit', '5']];
    growTo(15 * MB);
    const medium = segmentSize();
    const before = runs.map(peakOfLog);
    growTo(60 * MB);
    const large = segmentSize();
    const after = runs.map(peakOfLog);
    const last = cli(['log', '--limit', '2', '--json'], { cwd: dir }).json<Array<{ seq: number }>>();
    expect(last.map((e) => e.seq)).toEqual([appended, appended + 1]);
    runs.forEach((args, i) => {
      const why = `dreamos log ${args.join(' ')}: ${before[i]} bytes at ${medium}, ${after[i]} at ${large}`;
      expect(after[i]! - before[i]!, why).toBeLessThan((large - medium) / 2);
    });
  }, 300_000);
});
