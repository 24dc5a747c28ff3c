/**
 * Symbolic links planted in a workspace (issue 20, H2): recovery used to write its quarantine copies
 * through them, on every open, so that a `dreamos task list` overwrote any file the user could write
 * with a line the attacker chose. A workspace committed to a git repository carries such links to
 * whoever clones it.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openWorkspace } from '../../../src/workspace.js';
import { workspacePaths } from '../../../state/paths.js';
import { quarantined } from '../../helpers/fault-state.js';
import { cli, tempDir } from '../../helpers/workspace.js';

let tmp: ReturnType<typeof tempDir>;
let caseNo = 0;
beforeAll(() => {
  tmp = tempDir('dreamos-links-');
});
afterAll(() => tmp.cleanup());

const PRECIOUS = 'precious, never to be overwritten\n';

/** A workspace with one task, and a file outside it that an attacker wants overwritten. */
function setup(run = 'true') {
  const dir = path.join(tmp.dir, `case-${++caseNo}`);
  fs.mkdirSync(dir);
  expect(cli(['init'], { cwd: dir }).code).toBe(0);
  expect(cli(['task', 'add', 'x', '--run', run], { cwd: dir }).code).toBe(0);
  const victim = path.join(tmp.dir, `victim-${caseNo}.txt`);
  fs.writeFileSync(victim, PRECIOUS);
  const paths = workspacePaths(path.join(dir, '.dreamos'));
  return { dir, paths, victim, segment: paths.journalSegment(1) };
}

describe('a link planted where a quarantine copy will be written', () => {
  it('a damaged line: commands that read write nothing; the next write copies it beside the link', () => {
    const { dir, paths, victim, segment } = setup();
    const offset = fs.statSync(segment).size;
    fs.appendFileSync(segment, '* * * * * root echo owned\n');
    const link = path.join(paths.quarantineDir, `journal-1-${offset}-damaged.jsonl`);
    fs.symlinkSync(victim, link);

    for (const read of [['task', 'list'], ['status'], ['task', 'show', 'T-00001']]) {
      const r = cli(read, { cwd: dir });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toMatch(
        /a damaged journal line \(not valid JSON\) at segment 1 offset \d+ was skipped/,
      );
    }
    expect(fs.readFileSync(victim, 'utf8')).toBe(PRECIOUS);
    expect(quarantined(paths)).toEqual([path.basename(link)]);

    const add = cli(['task', 'add', 'y'], { cwd: dir });
    expect(add.code, add.stderr).toBe(0);
    expect(fs.readFileSync(victim, 'utf8')).toBe(PRECIOUS);
    // The copy went to a new file of its own, readable by the user only; the link is left alone.
    const copies = quarantined(paths, '.jsonl').filter((n) => n !== path.basename(link));
    expect(copies).toHaveLength(1);
    const copy = path.join(paths.quarantineDir, copies[0]!);
    expect(fs.readFileSync(copy, 'utf8')).toBe('* * * * * root echo owned');
    expect(fs.lstatSync(copy).mode & 0o777).toBe(0o600);
    expect(add.stderr).toContain(`a copy is in ${copy}`);
    expect(fs.readlinkSync(link)).toBe(victim);
  });

  it('the read-only console opens the workspace the same way: reported, nothing written', async () => {
    const { paths, victim, segment } = setup();
    const offset = fs.statSync(segment).size;
    fs.appendFileSync(segment, 'garbage\n');
    fs.appendFileSync(segment, 'TORN');
    fs.symlinkSync(victim, path.join(paths.quarantineDir, `journal-1-${offset}-damaged.jsonl`));
    const before = fs.readdirSync(paths.home, { recursive: true }).sort();
    const ws = await openWorkspace({ home: paths.home, readOnly: true });
    try {
      expect(ws.notices.map((n) => n.kind)).toEqual(['left-for-repair']);
      expect(ws.listTasks({}).map((t) => t.title)).toEqual(['x']);
    } finally {
      await ws.close();
    }
    expect(fs.readFileSync(victim, 'utf8')).toBe(PRECIOUS);
    expect(fs.readdirSync(paths.home, { recursive: true }).sort()).toEqual(before);
    expect(fs.readFileSync(segment, 'utf8')).toMatch(/TORN$/);
  });

  it('a torn tail: cut off by the next writer, its copy never written through the link', () => {
    const { dir, paths, victim, segment } = setup();
    const offset = fs.statSync(segment).size;
    fs.appendFileSync(segment, 'TORN TAIL with no newline');
    fs.symlinkSync(victim, path.join(paths.quarantineDir, `journal-1-${offset}-torn.bin`));
    const add = cli(['task', 'add', 'y'], { cwd: dir });
    expect(add.code, add.stderr).toBe(0);
    expect(fs.readFileSync(victim, 'utf8')).toBe(PRECIOUS);
    const copies = quarantined(paths, '.bin').filter(
      (n) => !fs.lstatSync(path.join(paths.quarantineDir, n)).isSymbolicLink(),
    );
    expect(copies).toHaveLength(1);
    expect(fs.readFileSync(path.join(paths.quarantineDir, copies[0]!), 'utf8')).toBe(
      'TORN TAIL with no newline',
    );
    expect(fs.readFileSync(segment, 'utf8')).not.toContain('TORN TAIL');
  });
});

describe('a link planted in place of a workspace folder', () => {
  it.each(['quarantine', 'logs', 'locks', 'boards'])(
    '%s/: refused with exit 6, nothing written through it',
    (name) => {
      const { dir, paths } = setup();
      const elsewhere = path.join(tmp.dir, `elsewhere-${caseNo}`);
      fs.mkdirSync(elsewhere);
      const folder = path.join(paths.home, name);
      fs.rmSync(folder, { recursive: true, force: true });
      fs.symlinkSync(elsewhere, folder);
      // A corrupt board would be moved into quarantine/: through the link, out of the workspace.
      if (name !== 'boards') fs.writeFileSync(paths.board('ready'), 'garbage');
      for (const args of [
        ['task', 'list'],
        ['task', 'add', 'y'],
      ]) {
        const r = cli(args, { cwd: dir });
        expect(r.code, r.stderr).toBe(6);
        expect(r.stderr.trim()).toBe(
          `dreamos: ${folder} is a symbolic link, not a folder: Dream.OS writes nothing through it (put a plain folder in its place)`,
        );
      }
      expect(fs.readdirSync(elsewhere)).toEqual([]);
    },
  );
});

describe('a link or a foreign folder in place of state', () => {
  it('a journal segment that is a link: refused with exit 6, the target untouched', () => {
    const { dir, victim, segment } = setup();
    fs.copyFileSync(segment, victim);
    const before = fs.readFileSync(victim);
    fs.rmSync(segment);
    fs.symlinkSync(victim, segment);
    for (const args of [
      ['task', 'list'],
      ['task', 'add', 'y'],
    ]) {
      const r = cli(args, { cwd: dir });
      expect(r.code, r.stderr).toBe(6);
      expect(r.stderr.trim()).toBe(
        `dreamos: ${segment} is a symbolic link, not a journal segment: Dream.OS reads and writes nothing through it`,
      );
    }
    expect(fs.readFileSync(victim)).toEqual(before);
  });

  it.runIf(process.getuid?.() === 0)('quarantine/ owned by another user: refused with exit 6', () => {
    const { dir, paths } = setup();
    fs.chownSync(paths.quarantineDir, 12345, 12345);
    const r = cli(['task', 'add', 'y'], { cwd: dir });
    expect(r.code, r.stderr).toBe(6);
    expect(r.stderr).toContain(`${paths.quarantineDir} belongs to another user (uid 12345)`);
  });
});

describe('a workspace committed to a git repository', () => {
  it('a relative link in the clone does not reach the file outside it', () => {
    const { dir, paths, segment } = setup();
    const offset = fs.statSync(segment).size;
    fs.appendFileSync(segment, 'ATTACKER CONTROLLED LINE: echo pwned\n');
    fs.symlinkSync(
      '../../../victim-git.txt',
      path.join(paths.quarantineDir, `journal-1-${offset}-damaged.jsonl`),
    );
    const git = (cwd: string, ...args: string[]) =>
      execFileSync('git', ['-c', 'user.name=a', '-c', 'user.email=a@b', ...args], { cwd, stdio: 'pipe' });
    git(dir, 'init', '-q');
    git(dir, 'add', '-f', '.dreamos');
    git(dir, 'commit', '-qm', 'workspace');
    const cloneParent = path.join(tmp.dir, 'clones');
    fs.mkdirSync(cloneParent);
    git(cloneParent, 'clone', '-q', dir, 'repo');
    // From the clone's quarantine/, ../../../ is the folder holding the clone.
    const victim = path.join(cloneParent, 'victim-git.txt');
    fs.writeFileSync(victim, PRECIOUS);
    const clone = path.join(cloneParent, 'repo');
    expect(
      fs.readlinkSync(path.join(clone, '.dreamos/quarantine', `journal-1-${offset}-damaged.jsonl`)),
    ).toBe('../../../victim-git.txt');
    const list = cli(['task', 'list'], { cwd: clone });
    expect(list.code, list.stderr).toBe(0);
    expect(fs.readFileSync(victim, 'utf8')).toBe(PRECIOUS);
    const add = cli(['task', 'add', 'y'], { cwd: clone });
    expect(add.code, add.stderr).toBe(0);
    expect(fs.readFileSync(victim, 'utf8')).toBe(PRECIOUS);
  });
});

describe('task logs', () => {
  it.each([
    ['linked', fs.symlinkSync],
    ['hard-linked', fs.linkSync],
  ])('a task log %s to a file outside: never written to, the task still runs', (_kind, plant) => {
    // A task with output, so that a log written through the link would change the victim.
    const { dir, paths, victim } = setup('echo hi');
    for (let a = 1; a <= 8; a++) {
      fs.mkdirSync(path.dirname(paths.log(`agent-${a}`, 'T-00001')), { recursive: true });
      plant(victim, paths.log(`agent-${a}`, 'T-00001'));
    }
    const run = cli(['run', '--until-idle'], { cwd: dir });
    expect(run.code, run.stderr).toBe(0);
    expect(fs.readFileSync(victim, 'utf8')).toBe(PRECIOUS);
    expect(cli(['task', 'show', 'T-00001', '--json'], { cwd: dir }).json()).toMatchObject({ status: 'done' });
  });
});
