/**
 * Damaged state files. The system Dream.OS replaces read a corrupt board
 * as an empty list and then saved over it. Here every store is damaged in every way we could think of,
 * and the next CLI command must move the damaged file to quarantine/ (never delete it), rebuild it
 * from the journal, raise an alert, say so on stderr, and lose no task. The journal itself, the locks
 * and config.json get the same treatment.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { digestOf } from '../../../state/db.js';
import { LOCAL_MACHINE } from '../../../state/lock/index.js';
import { STORES, type StoreName, workspacePaths } from '../../../state/paths.js';
import { readSnapshot } from '../../../state/snapshots.js';
import { checkState, quarantined, readAlerts, readBoard, scanJournal } from '../../helpers/fault-state.js';
import { cli, ROOT, tempDir } from '../../helpers/workspace.js';

type Kind = StoreName | 'alerts';
interface Seeded {
  id: string;
  status: string;
}

let tmp: ReturnType<typeof tempDir>;
let template: string;
let seeded: Seeded[];
let caseNo = 0;

/** A fresh copy of the seeded workspace: tasks in every store and one alert already raised. */
function workspace(): { dir: string; paths: ReturnType<typeof workspacePaths> } {
  const dir = path.join(tmp.dir, `case-${++caseNo}`);
  fs.cpSync(template, dir, { recursive: true });
  return { dir, paths: workspacePaths(path.join(dir, '.dreamos')) };
}

const fileOf = (paths: ReturnType<typeof workspacePaths>, kind: Kind) =>
  kind === 'alerts' ? paths.alerts : paths.board(kind);

function listTasks(dir: string) {
  const list = cli(['task', 'list', '--json'], { cwd: dir });
  return {
    ...list,
    tasks: list.code === 0 ? list.json<Seeded[]>().map(({ id, status }) => ({ id, status })) : [],
  };
}

/**
 * A command that changes the workspace (a message to agent-8, which touches no store) repairs what
 * it finds and says so; then the board is listed. Commands that only read repair nothing.
 */
function recoverThenList(dir: string) {
  const write = cli(['mail', 'send', '--to', 'agent-8', 'hello'], { cwd: dir });
  const list = listTasks(dir);
  return { ...list, code: write.code || list.code, stderr: `${write.stderr}${list.stderr}` };
}

beforeAll(() => {
  tmp = tempDir('dreamos-corruption-');
  template = path.join(tmp.dir, 'template');
  fs.mkdirSync(template);
  expect(cli(['init'], { cwd: template }).code).toBe(0);
  const seed = spawnSync(
    process.execPath,
    [path.join(ROOT, 'tests/helpers/fault-seed.mjs'), path.join(template, '.dreamos')],
    { encoding: 'utf8' },
  );
  expect(seed.stderr).toBe('');
  seeded = JSON.parse(seed.stdout);
  expect(new Set(seeded.map((t) => t.status))).toEqual(
    new Set(['backlog', 'ready', 'working', 'done', 'failed', 'cancelled']),
  );
  // One alert on record, so that alerts.json has content to damage: a board that went missing.
  fs.rmSync(workspacePaths(path.join(template, '.dreamos')).board('backlog'));
  expect(cli(['mail', 'send', '--to', 'agent-8', 'hello'], { cwd: template }).code).toBe(0);
  expect(readAlerts(workspacePaths(path.join(template, '.dreamos'))).alerts).toHaveLength(1);
});
afterAll(() => tmp.cleanup());

type Damage = (text: string, kind: Kind) => string | Buffer | null;

function edit(
  text: string,
  change: (file: Record<string, unknown> & { tasks?: unknown[]; alerts?: unknown[] }) => void,
) {
  const file = JSON.parse(text);
  change(file);
  return JSON.stringify(file, null, 1);
}

const DAMAGES: Array<[string, Damage]> = [
  ['truncated mid-write', (text) => text.slice(0, Math.floor(text.length * 0.6))],
  ['emptied (0 bytes)', () => ''],
  ['filled with garbage', () => Buffer.from([0, 0xff, 0xfe, 0x1b, 0x5b, 0x32, 0x4a, 0x0a, 0x7b, 0x7b, 0x22])],
  [
    'replaced with YAML',
    (_text, kind) =>
      kind === 'alerts'
        ? 'schemaVersion: 1\nalerts:\n  - id: A-00001\n    kind: stall\n'
        : `schemaVersion: 1\nstore: ${kind}\ntasks:\n  - id: T-00001\n    title: from yaml\n`,
  ],
  [
    'valid JSON that breaks the schema',
    (text, kind) =>
      edit(text, (file) => {
        if (kind === 'alerts') (file.alerts![0] as { severity: string }).severity = 'apocalyptic';
        else (file.tasks![0] as { priority: string }).priority = 'urgent';
      }),
  ],
  [
    'hand-edited valid content (digest mismatch)',
    (text, kind) =>
      edit(text, (file) => {
        if (kind === 'alerts') (file.alerts![0] as { status: string }).status = 'resolved';
        else (file.tasks![0] as { title: string }).title = 'edited by hand';
      }),
  ],
];

describe.each([...STORES, 'alerts'] as Kind[])('the %s store', (kind) => {
  it.each(DAMAGES)('%s: quarantined, rebuilt from the journal, alerted and told', (_name, damage) => {
    const { dir, paths } = workspace();
    const file = fileOf(paths, kind);
    const before = readAlerts(paths).alerts;
    const damaged = damage(fs.readFileSync(file, 'utf8'), kind)!;
    fs.writeFileSync(file, damaged);

    const list = recoverThenList(dir);
    expect(list.code, list.stderr).toBe(0);
    // No task lost, none changed.
    expect(list.tasks).toEqual(seeded);
    // Told, in one clear line naming the file and where it went.
    expect(list.stderr).toMatch(
      new RegExp(`^dreamos: ${file}.*(corrupt|changed outside Dream\\.OS).*moved to .*quarantine/`, 'm'),
    );
    // The damaged bytes are kept in quarantine/, never deleted.
    const moved = quarantined(paths, `-${path.basename(file)}`);
    expect(moved).toHaveLength(1);
    expect(fs.readFileSync(path.join(paths.quarantineDir, moved[0]!))).toEqual(Buffer.from(damaged));
    // Rebuilt: valid, with the right content.
    expect(() => readSnapshot(paths, kind)).not.toThrow();
    if (kind !== 'alerts') {
      const expected = seeded.filter((t) =>
        (kind === 'completed' ? ['done', 'failed', 'cancelled'] : [kind]).includes(t.status),
      );
      expect(readBoard(paths, kind).tasks.map((t) => t.id)).toEqual(expected.map((t) => t.id));
    }
    // Alerted, and the alert already on record survived (a hand edit of it was undone).
    const alerts = readAlerts(paths).alerts;
    const raised = alerts.filter((a) => !before.some((b) => b.id === a.id));
    expect(raised).toMatchObject([{ kind: 'corrupt-state', status: 'open', subject: file }]);
    expect(alerts.find((a) => a.id === before[0]!.id)).toEqual(before[0]);
    // Every store agrees with the journal, every task is in exactly one.
    expect(checkState(paths.home, []).problems).toEqual([]);
  });

  it('deleted: rebuilt from the journal and alerted', () => {
    const { dir, paths } = workspace();
    const file = fileOf(paths, kind);
    fs.rmSync(file);
    const list = recoverThenList(dir);
    expect(list.code, list.stderr).toBe(0);
    expect(list.tasks).toEqual(seeded);
    expect(list.stderr).toContain(`dreamos: ${file} was missing; it is rebuilt from the journal`);
    expect(() => readSnapshot(paths, kind)).not.toThrow();
    expect(
      readAlerts(paths)
        .alerts.filter((a) => a.subject === file)
        .pop(),
    ).toMatchObject({
      kind: 'missing-store',
      status: 'open',
    });
    expect(checkState(paths.home, []).problems).toEqual([]);
  });

  it('after recovery, doctor finds the workspace well', () => {
    const { dir, paths } = workspace();
    fs.writeFileSync(fileOf(paths, kind), 'garbage');
    const doctor = cli(['doctor', '--json'], { cwd: dir });
    const report = doctor.json<{ ok: boolean; problems: Array<{ code: string; path?: string }> }>();
    // The doctor's own open did the recovery: it reports it as such, and nothing else.
    expect(report.problems.map((p) => [p.code, p.path])).toEqual([['recovered', fileOf(paths, kind)]]);
    expect(report.ok).toBe(true);
    expect(doctor.code).toBe(0);
    // Rebuilt for good: the next open finds nothing to quarantine again.
    expect(checkState(paths.home, []).problems).toEqual([]);
  });
});

describe('a board holding a task of another store', () => {
  it.each(STORES)('the %s board, digest recomputed: quarantined and rebuilt', (store) => {
    const { dir, paths } = workspace();
    const other = STORES[(STORES.indexOf(store) + 1) % STORES.length]!;
    const stray = readBoard(paths, other).tasks[0]!;
    const board = readBoard(paths, store);
    const tasks = [...board.tasks, stray];
    fs.writeFileSync(paths.board(store), JSON.stringify({ ...board, tasks, digest: digestOf(tasks) }));
    const list = recoverThenList(dir);
    expect(list.code, list.stderr).toBe(0);
    expect(list.tasks).toEqual(seeded);
    expect(list.stderr).toContain(`it holds ${stray.id}, a ${stray.status} task`);
    expect(quarantined(paths, `-${path.basename(paths.board(store))}`)).toHaveLength(1);
    expect(checkState(paths.home, []).problems).toEqual([]);
  });
});

describe('the journal', () => {
  const segment = (paths: ReturnType<typeof workspacePaths>) => paths.journalSegment(1);

  it('garbage appended: skipped, copied to quarantine, alerted and told; later writes continue the sequence', () => {
    const { dir, paths } = workspace();
    const offset = fs.statSync(segment(paths)).size;
    fs.appendFileSync(segment(paths), 'rm -rf / # not a journal entry\n');
    // A command that only reads reports the line and writes nothing.
    const read = listTasks(dir);
    expect(read.code, read.stderr).toBe(0);
    expect(read.tasks).toEqual(seeded);
    expect(read.stderr).toMatch(
      new RegExp(
        `^dreamos: a damaged journal line \\(not valid JSON\\) at segment 1 offset ${offset} was skipped; the next command that changes the workspace, or \`dreamos doctor --repair\`, copies it to quarantine/$`,
        'm',
      ),
    );
    expect(quarantined(paths)).toEqual([]);
    const list = recoverThenList(dir);
    expect(list.code, list.stderr).toBe(0);
    expect(list.tasks).toEqual(seeded);
    expect(list.stderr).toMatch(
      /^dreamos: a damaged journal line \(not valid JSON\) was skipped; a copy is in .*quarantine\//m,
    );
    expect(quarantined(paths, `journal-1-${offset}-damaged.jsonl`)).toHaveLength(1);
    expect(readAlerts(paths).alerts.find((a) => a.kind === 'journal-damage')).toMatchObject({
      status: 'open',
    });
    const add = cli(['task', 'add', 'after the damage', '--json'], { cwd: dir });
    expect(add.code, add.stderr).toBe(0);
    const scan = scanJournal(paths);
    expect(scan.damaged).toHaveLength(1);
    expect(scan.entries.map((e) => e.seq)).toEqual(scan.entries.map((_, i) => i + 1));
    expect(cli(['doctor', '--json'], { cwd: dir }).json()).toMatchObject({ ok: true });
  });

  it('an entry replayed (a copied line): not applied twice', () => {
    const { dir, paths } = workspace();
    // The claim of a task that has been completed since: applied again, it would be working again.
    const done = seeded.find((t) => t.status === 'done')!;
    const claim = scanJournal(paths).entries.find(
      (e) => e.op === 'claim' && e.tasks?.some((p) => p.task.id === done.id),
    )!;
    const line = fs
      .readFileSync(segment(paths), 'utf8')
      .split('\n')
      .find((l) => l.includes(`"seq":${claim.seq},`))!;
    fs.appendFileSync(segment(paths), `${line}\n`);
    const list = recoverThenList(dir);
    expect(list.code, list.stderr).toBe(0);
    expect(list.tasks).toEqual(seeded);
    expect(list.stderr).toMatch(/^dreamos: a damaged journal line \(sequence \d+ repeats or goes back/m);
    expect(readAlerts(paths).alerts.find((a) => a.kind === 'journal-damage')?.message).toMatch(/repeats/);
    const add = cli(['task', 'add', 'after the replay'], { cwd: dir });
    expect(add.code, add.stderr).toBe(0);
    expect(listTasks(dir).tasks.find((t) => t.id === done.id)?.status).toBe('done');
    expect(cli(['doctor', '--json'], { cwd: dir }).json()).toMatchObject({ ok: true });
  });

  it('a torn last line (a writer killed mid-append): cut off by the next writer, kept in quarantine', () => {
    const { dir, paths } = workspace();
    const lines = fs.readFileSync(segment(paths), 'utf8');
    const last = lines.trimEnd().split('\n').pop()!;
    const torn = last.replace(/"seq":\d+/, `"seq":${scanJournal(paths).entries.length + 1}`).slice(0, 200);
    fs.appendFileSync(segment(paths), torn);
    const list = listTasks(dir);
    expect(list.code, list.stderr).toBe(0);
    expect(list.tasks).toEqual(seeded);
    const add = cli(['task', 'add', 'after the tear', '--json'], { cwd: dir });
    expect(add.code, add.stderr).toBe(0);
    expect(add.stderr).toMatch(
      /^dreamos: an unfinished journal line from a crashed writer was moved to .*quarantine\//m,
    );
    const copy = quarantined(paths, '-torn.bin');
    expect(copy).toHaveLength(1);
    expect(fs.readFileSync(path.join(paths.quarantineDir, copy[0]!), 'utf8')).toBe(torn);
    const scan = scanJournal(paths);
    expect([scan.damaged, scan.tornBytes]).toEqual([[], 0]);
    expect(checkState(paths.home, []).problems).toEqual([]);
    expect(listTasks(dir).tasks.map((t) => t.id)).toContain(add.json<{ id: string }>().id);
  });
});

describe('locks left behind', () => {
  it('a journal lock held by a killed process is taken over, not waited out', async () => {
    const { dir, paths } = workspace();
    const signal = path.join(dir, 'holding');
    const holder = spawn(
      process.execPath,
      [path.join(ROOT, 'tests/helpers/fault-hold-lock.mjs'), paths.home, signal],
      {
        stdio: 'ignore',
      },
    );
    for (let i = 0; i < 600 && !fs.existsSync(signal); i++) await new Promise((r) => setTimeout(r, 25));
    expect(fs.existsSync(`${paths.journalLock}.lock`)).toBe(true);
    const gone = new Promise((resolve) => holder.on('close', resolve));
    holder.kill('SIGKILL');
    await gone;
    // Its mtime in the future: proper-lockfile's staleness cannot be what frees it.
    const future = new Date(Date.now() + 3600_000);
    fs.utimesSync(`${paths.journalLock}.lock`, future, future);
    const add = cli(['task', 'add', 'after the holder died', '--json'], { cwd: dir });
    expect(add.code, add.stderr).toBe(0);
    expect(listTasks(dir).tasks).toHaveLength(seeded.length + 1);
    expect(cli(['doctor', '--json'], { cwd: dir }).json()).toMatchObject({ ok: true, problems: [] });
  });

  it('a lock directory whose owner died before recording itself is taken over too', () => {
    const { dir, paths } = workspace();
    // A process that announced its attempt, created the lock directory, and died.
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], {
      encoding: 'utf8',
    });
    // Its record says it was about to create the directory (state A) when it died.
    const record = path.join(
      path.dirname(paths.journalLock),
      'owners',
      `journal.by.${hostname()}.${LOCAL_MACHINE}.${dead.stdout}`,
    );
    fs.mkdirSync(path.dirname(record), { recursive: true });
    fs.writeFileSync(
      record,
      JSON.stringify({
        pid: Number(dead.stdout),
        host: hostname(),
        machine: LOCAL_MACHINE,
        start: '0',
        state: 'A',
      }),
    );
    fs.mkdirSync(`${paths.journalLock}.lock`);
    const future = new Date(Date.now() + 3600_000);
    fs.utimesSync(`${paths.journalLock}.lock`, future, future);
    const add = cli(['task', 'add', 'after the orphan', '--json'], { cwd: dir });
    expect(add.code, add.stderr).toBe(0);
    // The dead process's record is cleaned away with its lock.
    expect(fs.existsSync(record)).toBe(false);
  });
});

describe('config.json', () => {
  it.each([
    ['garbage', 'agents: [oops'],
    ['valid JSON that breaks the schema', JSON.stringify({ schemaVersion: 1, agents: 'all of them' })],
  ])('%s: a clear error with exit 6, and doctor --repair restores it from the journal', (_name, text) => {
    const { dir, paths } = workspace();
    const good = fs.readFileSync(paths.config, 'utf8');
    fs.writeFileSync(paths.config, text);
    const list = listTasks(dir);
    expect(list.code).toBe(6);
    expect(list.stderr).toMatch(/^dreamos: .*config\.json is corrupt: .*dreamos doctor --repair/m);
    expect(list.stderr.trim().split('\n')).toHaveLength(1);

    const repair = cli(['doctor', '--repair', '--json'], { cwd: dir });
    expect(repair.code, repair.stderr).toBe(0);
    expect(repair.json<{ repaired: string[] }>().repaired.join('\n')).toMatch(/config\.json restored/);
    expect(JSON.parse(fs.readFileSync(paths.config, 'utf8'))).toEqual(JSON.parse(good));
    const kept = quarantined(paths, '-config.json');
    expect(kept).toHaveLength(1);
    expect(fs.readFileSync(path.join(paths.quarantineDir, kept[0]!), 'utf8')).toBe(text);
    expect(listTasks(dir).tasks).toEqual(seeded);
  });
});
