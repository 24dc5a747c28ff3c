/**
 * Lock owner records and the temporary files of durable writes are created new, never through a
 * symlink planted at their path (issue 20, L5): the link's target is left untouched, and a leftover
 * file at the path is replaced.
 */
import fs from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { acquireLock, LOCAL_MACHINE } from '../../../state/lock/index.js';
import { writeFileDurable } from '../../../state/store.js';
import { tempDir } from '../../helpers/workspace.js';

let tmp: ReturnType<typeof tempDir>;
let victim: string;

beforeEach(() => {
  tmp = tempDir('dreamos-no-follow-');
  victim = path.join(tmp.dir, 'victim');
  fs.writeFileSync(victim, 'precious\n');
});
afterEach(() => tmp.cleanup());

describe('files created by the state layer', () => {
  it('an owner record is not written through a symlink at its path', async () => {
    const target = path.join(tmp.dir, 'locks', 'probe');
    const owners = path.join(tmp.dir, 'locks', 'owners');
    fs.mkdirSync(owners, { recursive: true });
    const record = path.join(owners, `probe.by.${hostname()}.${LOCAL_MACHINE || 'x'}.${process.pid}`);
    fs.symlinkSync(victim, record);

    const lock = await acquireLock(target, { timeoutMs: 2000 });
    try {
      expect(fs.readFileSync(victim, 'utf8')).toBe('precious\n');
      const st = fs.lstatSync(record);
      expect(st.isFile()).toBe(true);
      expect(st.mode & 0o777).toBe(0o600);
      expect(JSON.parse(fs.readFileSync(record, 'utf8'))).toMatchObject({ pid: process.pid, state: 'H' });
    } finally {
      await lock.release();
    }
    expect(fs.readFileSync(victim, 'utf8')).toBe('precious\n');
  });

  it('a durable write does not write through, or rename into place, a symlink at its temp path', () => {
    const file = path.join(tmp.dir, 'board.json');
    const temp = path.join(tmp.dir, `.board.json.${process.pid}.tmp`);
    fs.symlinkSync(victim, temp);
    writeFileDurable(file, '{"ok":true}\n');
    expect(fs.readFileSync(victim, 'utf8')).toBe('precious\n');
    expect(fs.lstatSync(file).isFile()).toBe(true);
    expect(fs.lstatSync(file).mode & 0o777).toBe(0o600);
    expect(fs.readFileSync(file, 'utf8')).toBe('{"ok":true}\n');
    expect(fs.existsSync(temp)).toBe(false);
  });

  it('a leftover temp file of a dead process with the same pid is replaced', () => {
    const file = path.join(tmp.dir, 'board.json');
    const temp = path.join(tmp.dir, `.board.json.${process.pid}.tmp`);
    fs.writeFileSync(temp, 'half-written garbage that is longer than the new content');
    writeFileDurable(file, 'new\n');
    expect(fs.readFileSync(file, 'utf8')).toBe('new\n');
    expect(fs.existsSync(temp)).toBe(false);
  });
});
