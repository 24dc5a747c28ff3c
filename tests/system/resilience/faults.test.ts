/**
 * The fault suite: a real `dreamos run` driving real shell
 * agents on real files, hit by real faults — SIGKILLs at random instants, an output flood, an agent
 * scribbling on a board file, a full disk. Every test asserts invariants (every task done exactly
 * once, every store valid, the journal whole, nothing left running), never timings.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { seededRandom } from '../../../agents/drivers/sim.js';
import { decodeLine } from '../../../state/journal.js';
import { AlertsFile, BoardFile, storeOf } from '../../../state/schemas.js';
import { digestOf } from '../../../state/snapshots.js';
import { BIN, cli, cliAsync, tempDir } from '../../helpers/workspace.js';

interface TaskJson {
  id: string;
  title: string;
  status: string;
  attempts: number;
  stalls: number;
  result: { ok: boolean; log?: string } | null;
  history: Array<{ from: string | null; to: string; by: string; why?: string }>;
}

interface Orchestrator {
  child: ChildProcess;
  /** Exit code, or null when killed by a signal. */
  exited: Promise<number | null>;
  /** The `--json` events it printed so far. */
  events: () => Array<{ type: string; [key: string]: unknown }>;
  stderr: () => string;
}

const BOARDS = ['task_backlog.json', 'task_ready_queue.json', 'working_tasks.json', 'completed_tasks.json'];

let tmp: ReturnType<typeof tempDir>;
let home: string;
const run = (args: string[]) => cli(args, { cwd: tmp.dir });
const tasks = () => run(['task', 'list', '--json']).json<TaskJson[]>();

/** A workspace with fast heartbeats and short leases, so that recovery does not wait long. */
function initWorkspace(dir: string): void {
  expect(cli(['init'], { cwd: dir }).code).toBe(0);
  const file = path.join(dir, '.dreamos', 'config.json');
  const config = JSON.parse(fs.readFileSync(file, 'utf8'));
  // Stalls are counted when a dead orchestrator's lease runs out before its successor resumes the
  // task; they are legitimate here, so they must not fail a task (attempts are bounded below).
  Object.assign(config.policies, { heartbeatSeconds: 1, leaseSeconds: 5, maxStalls: 20 });
  fs.writeFileSync(file, JSON.stringify(config, null, 2));
}

function importTasks(items: Array<Record<string, unknown>>): void {
  const file = path.join(tmp.dir, 'import.json');
  fs.writeFileSync(file, JSON.stringify(items));
  expect(run(['task', 'import', file]).code).toBe(0);
  fs.rmSync(file);
}

/** Orchestrators started by the current test: none may outlive it, even when it fails. */
const orchestrators = new Set<ChildProcess>();

/** `dreamos run --json` as a child process, its events collected line by line. */
function startOrchestrator(args: string[] = []): Orchestrator {
  const child = spawn(process.execPath, [BIN, 'run', '--json', ...args], {
    cwd: tmp.dir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  orchestrators.add(child);
  child.once('exit', () => orchestrators.delete(child));
  let out = '';
  child.stdout!.on('data', (d) => {
    out += d;
  });
  let err = '';
  child.stderr!.on('data', (d) => {
    err += d;
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    exited,
    stderr: () => err,
    // Complete lines only: a process killed mid-write leaves its last line cut.
    events: () => out.split('\n').slice(0, -1).flatMap(parseEvent),
  };
}

function parseEvent(line: string): Array<{ type: string; [key: string]: unknown }> {
  try {
    return [JSON.parse(line)];
  } catch {
    return []; // not an event (a line cut by SIGKILL)
  }
}

/** Every board file parses, validates, matches its digest, holds only its own tasks, none twice. */
function checkBoards(): Map<string, string> {
  const where = new Map<string, string>();
  for (const name of BOARDS) {
    const raw = JSON.parse(fs.readFileSync(path.join(home, 'boards', name), 'utf8'));
    const board = BoardFile.parse(raw);
    expect(digestOf(board.tasks), `${name} digest`).toBe(board.digest);
    for (const task of board.tasks) {
      expect(storeOf(task.status as Parameters<typeof storeOf>[0]), `${task.id} in ${name}`).toBe(
        board.store,
      );
      expect(where.has(task.id), `${task.id} in two stores`).toBe(false);
      where.set(task.id, board.store);
    }
  }
  const alerts = AlertsFile.parse(JSON.parse(fs.readFileSync(path.join(home, 'alerts.json'), 'utf8')));
  expect(digestOf(alerts.alerts)).toBe(alerts.digest);
  return where;
}

/** Every journal line is complete and valid, and sequence numbers run 1, 2, 3… without gap or repeat. */
function checkJournal(): number {
  const dir = path.join(home, 'journal');
  let expected = 1;
  for (const name of fs.readdirSync(dir).sort()) {
    const text = fs.readFileSync(path.join(dir, name), 'utf8');
    if (text === '') continue;
    expect(text.endsWith('\n'), `${name} ends with a complete line`).toBe(true);
    for (const line of text.slice(0, -1).split('\n')) {
      const decoded = decodeLine(line);
      expect('entry' in decoded ? null : decoded.error).toBeNull();
      if ('entry' in decoded) expect(decoded.entry.seq).toBe(expected++);
    }
  }
  return expected - 1;
}

function doctorOk(cwd = tmp.dir): void {
  const doctor = cli(['doctor', '--json'], { cwd });
  const report = doctor.json<{ ok: boolean; problems: unknown[] }>();
  expect(report.problems.filter((p) => (p as { code: string }).code !== 'recovered')).toEqual([]);
  expect(report.ok).toBe(true);
  expect(doctor.code).toBe(0);
}

/** Processes still running for this workspace (found by their DREAMOS_HOME, as the orchestrator does). */
function drivenProcesses(): number[] {
  const found: number[] = [];
  for (const name of fs.readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      const env = fs.readFileSync(`/proc/${name}/environ`, 'utf8').split('\0');
      if (env.includes(`DREAMOS_HOME=${home}`)) found.push(Number(name));
    } catch {
      // gone, or not ours to read
    }
  }
  return found;
}

function rssKiB(pid: number): number | null {
  try {
    const match = /^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : null;
  } catch {
    return null;
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Each task done exactly once: one →done in its history, and that is where it stays. */
function expectAllDoneOnce(all: TaskJson[], count: number): void {
  expect(all).toHaveLength(count);
  for (const t of all) {
    expect(t.status, `${t.id} ${t.title}`).toBe('done');
    expect(
      t.history.filter((h) => h.to === 'done'),
      t.id,
    ).toHaveLength(1);
  }
}

/** After a failed test: nothing it started may outlive it. */
function killDrivenProcesses(): void {
  for (const child of orchestrators) child.kill('SIGKILL');
  for (const pid of drivenProcesses()) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

describe('fault suite', () => {
  beforeEach(() => {
    tmp = tempDir('dreamos-faults-');
    home = path.join(tmp.dir, '.dreamos');
  });
  afterEach(() => {
    killDrivenProcesses();
    tmp.cleanup();
  });

  it('SIGKILLs of the orchestrator at random instants during a 200-task run lose nothing', async () => {
    const TASKS = 200;
    const KILLS = 15;
    const seed = Number(process.env.FAULT_SEED ?? Math.floor(Math.random() * 2 ** 31));
    const random = seededRandom(seed);
    initWorkspace(tmp.dir);
    const ran = path.join(tmp.dir, 'ran.log');
    const SLEEPS = ['0', '0.1', '0.3', '0.6', '2.5']; // the long ones are often still running at a kill
    importTasks(
      Array.from({ length: TASKS }, (_, i) => ({
        title: `t${i}`,
        // Its own side effects, to see how often and when each task really ran: start and end lines
        // with the shell's pid (appends of one short line are atomic, so the file is in time order).
        run: `echo "start $DREAMOS_TASK_ID $$" >> ${ran}; sleep ${SLEEPS[i % SLEEPS.length]}; echo "end $DREAMOS_TASK_ID $$" >> ${ran}`,
        // Each kill costs a running task one attempt (it is resumed, or its lease runs out): with room
        // for all of them, no task can fail because of the kills alone.
        maxAttempts: KILLS + 5,
      })),
    );

    const events: Array<{ type: string; [key: string]: unknown }> = [];
    let killedWithChildren = 0;
    for (let kill = 0; kill < KILLS; kill++) {
      const orchestrator = startOrchestrator();
      // Anywhere from node's start-up (taking the agents, stopping leftovers) to deep in dispatching.
      await sleep(200 + random() * 2800);
      if (drivenProcesses().length > 0) killedWithChildren++;
      orchestrator.child.kill('SIGKILL');
      expect(await orchestrator.exited, orchestrator.stderr()).toBeNull();
      events.push(...orchestrator.events());
    }
    const doneBefore = tasks().filter((t) => t.status === 'done').length;

    const final = await cliAsync(['run', '--until-idle', '--json'], { cwd: tmp.dir });
    expect(final.code, final.stderr).toBe(0);
    events.push(
      ...final.stdout
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l)),
    );

    const all = tasks();
    expectAllDoneOnce(all, TASKS);
    const lines = fs
      .readFileSync(ran, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split(' ') as [string, string, string]);
    let reruns = 0;
    for (const t of all) {
      const own = lines.filter(([, id]) => id === t.id);
      const starts = own.filter(([kind]) => kind === 'start').length;
      expect(
        own.some(([kind]) => kind === 'end'),
        `${t.id} ran to its end`,
      ).toBe(true);
      // A task runs again only after a killed attempt, and every run is counted as an attempt.
      expect(starts, `${t.id} runs vs attempts`).toBeLessThanOrEqual(t.attempts);
      // Never two runs at once: a run that ends is the latest one started (a leftover is stopped
      // before its task is handed out again).
      let latest = '';
      for (const [kind, , pid] of own) {
        if (kind === 'start') latest = pid;
        else expect(pid, `${t.id}: an older run ended after a newer one started`).toBe(latest);
      }
      reruns += starts - 1;
    }
    const where = checkBoards();
    expect([...where.values()].filter((s) => s === 'completed')).toHaveLength(TASKS);
    const entries = checkJournal();
    doctorOk();
    expect(drivenProcesses()).toEqual([]);

    const figures = {
      seed,
      runs: KILLS + 1,
      kills: KILLS,
      tasks: TASKS,
      doneBeforeFinalRun: doneBefore,
      done: all.filter((t) => t.status === 'done').length,
      losses: TASKS - all.filter((t) => t.status === 'done').length,
      doneTwice: all.filter((t) => t.history.filter((h) => h.to === 'done').length > 1).length,
      resumed: all.reduce(
        (n, t) => n + t.history.filter((h) => h.from === 'working' && h.to === 'working').length,
        0,
      ),
      stalls: all.reduce((n, t) => n + t.stalls, 0),
      maxAttempts: Math.max(...all.map((t) => t.attempts)),
      reruns,
      killedWithChildren,
      leftoversStopped: events.filter((e) => e.type === 'leftover').length,
      journalEntries: entries,
    };
    console.log(`fault suite, SIGKILL figures: ${JSON.stringify(figures)}`);
  }, 240_000);

  it('an agent flooding 100 MB of output: log capped, orchestrator memory bounded, nothing lost', async () => {
    initWorkspace(tmp.dir);
    importTasks([
      {
        title: 'flood',
        run: "head -c 100000000 /dev/zero | tr '\\0' x | fold -w 100; echo flood-finished >&2",
      },
      ...Array.from({ length: 10 }, (_, i) => ({ title: `quiet${i}`, run: `echo quiet ${i}` })),
    ]);
    const orchestrator = startOrchestrator(['--until-idle']);
    let peakKiB = 0;
    let samples = 0;
    const sampler = setInterval(() => {
      const kib = rssKiB(orchestrator.child.pid!);
      if (kib !== null) {
        peakKiB = Math.max(peakKiB, kib);
        samples++;
      }
    }, 50);
    const code = await orchestrator.exited;
    clearInterval(sampler);
    expect(code, orchestrator.stderr()).toBe(0);

    const all = tasks();
    expectAllDoneOnce(all, 11);
    const flood = all.find((t) => t.title === 'flood')!;
    const log = path.join(home, flood.result!.log!);
    const size = fs.statSync(log).size;
    const tail = fs.readFileSync(log, 'utf8').slice(-300);
    expect(size).toBeLessThanOrEqual(10 * 1024 * 1024 + 200);
    expect(size).toBeGreaterThan(10 * 1024 * 1024 - 200); // it was filled up to the cap, not cut early
    expect(tail).toMatch(/output past \d+ bytes dropped \(log size cap\)/);
    expect(samples).toBeGreaterThan(5);
    expect(peakKiB).toBeLessThan(300 * 1024);
    checkBoards();
    checkJournal();
    doctorOk();
    console.log(
      `fault suite, flood figures: ${JSON.stringify({ logBytes: size, peakRssMiB: Math.round(peakKiB / 1024), samples })}`,
    );
  }, 120_000);

  it('an agent writing garbage into a board file: quarantined, rebuilt, alerted, nothing lost', async () => {
    initWorkspace(tmp.dir);
    const board = path.join(home, 'boards', 'task_ready_queue.json');
    const quarantine = path.join(home, 'quarantine');
    importTasks([
      // Hostile: edits a state file behind Dream.OS's back, then stays busy past a few heartbeats.
      // (Written again until it is seen: a snapshot flush renaming a good board over the garbage in the
      // same instant would hide it.)
      {
        title: 'vandal',
        run: `for i in $(seq 20); do [ -n "$(ls '${quarantine}')" ] && break; echo garbage > '${board}'; sleep 1; done; sleep 2`,
      },
      ...Array.from({ length: 20 }, (_, i) => ({ title: `t${i}`, run: `sleep 0.${i % 5}; echo ${i}` })),
    ]);
    const orchestrator = startOrchestrator(['--until-idle']);
    expect(await orchestrator.exited, orchestrator.stderr()).toBe(0);

    // The running orchestrator found it (at a heartbeat), not a later command.
    const reported = orchestrator
      .events()
      .filter((e) => e.type === 'error' && /task_ready_queue\.json/.test(String(e.message)));
    expect(reported.length).toBeGreaterThan(0);
    const quarantined = fs.readdirSync(quarantine);
    expect(quarantined.length).toBeGreaterThanOrEqual(1);
    for (const name of quarantined) {
      expect(name).toMatch(/task_ready_queue\.json$/);
      expect(fs.readFileSync(path.join(quarantine, name), 'utf8')).toBe('garbage\n'); // kept, never deleted
    }

    const alerts = AlertsFile.parse(JSON.parse(fs.readFileSync(path.join(home, 'alerts.json'), 'utf8')));
    const corrupt = alerts.alerts.filter((a) => a.kind === 'corrupt-state' && a.subject === board);
    expect(corrupt.length).toBeGreaterThanOrEqual(1);
    for (const alert of corrupt) expect(alert).toMatchObject({ status: 'open', severity: 'critical' });
    expect(run(['status', '--json']).json<{ openAlerts: number }>().openAlerts).toBeGreaterThanOrEqual(1);

    expectAllDoneOnce(tasks(), 21);
    checkBoards(); // the rebuilt board validates
    checkJournal();
    doctorOk();
  }, 120_000);
});

/** A small tmpfs holds the workspace, so that the disk really fills up. */
const canMount = (() => {
  if (process.platform !== 'linux' || process.getuid?.() !== 0) return false;
  const probe = fs.mkdtempSync(path.join('/tmp', 'dreamos-mount-probe-'));
  try {
    const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', probe]).status === 0;
    if (mounted) spawnSync('umount', [probe]);
    return mounted;
  } finally {
    fs.rmSync(probe, { recursive: true, force: true });
  }
})();

describe.skipIf(!canMount)('a full disk (ENOSPC from a small tmpfs)', () => {
  let mountPoint: string;
  let filler: string;

  beforeEach(() => {
    mountPoint = fs.mkdtempSync(path.join('/tmp', 'dreamos-full-'));
    const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', mountPoint], {
      encoding: 'utf8',
    });
    expect(mounted.status, mounted.stderr).toBe(0);
    tmp = { dir: mountPoint, cleanup: () => undefined };
    home = path.join(mountPoint, '.dreamos');
    filler = path.join(mountPoint, 'filler');
  });
  afterEach(() => {
    killDrivenProcesses();
    spawnSync('umount', ['-l', mountPoint]);
    fs.rmSync(mountPoint, { recursive: true, force: true });
  });

  /** Fill the file system, then give back `free` bytes. */
  function fillDisk(free: number): void {
    const fd = fs.openSync(filler, 'a');
    const chunk = Buffer.alloc(64 * 1024, 1);
    try {
      for (;;) fs.writeSync(fd, chunk);
    } catch (error) {
      expect((error as NodeJS.ErrnoException).code).toBe('ENOSPC');
    } finally {
      fs.closeSync(fd);
    }
    if (free > 0) fs.truncateSync(filler, Math.max(0, fs.statSync(filler).size - free));
  }

  function noTempFilesLeft(): void {
    const leftovers: string[] = [];
    const walk = (dir: string) => {
      for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
        const full = path.join(dir, entry.name);
        if (entry.isDirectory()) walk(full);
        else if (entry.name.endsWith('.tmp')) leftovers.push(full);
      }
    };
    walk(home);
    expect(leftovers).toEqual([]);
  }

  it('commands fail with a clear error, nothing half-written stays, no acknowledged task is lost', () => {
    initWorkspace(mountPoint);
    const outside = tempDir('dreamos-full-input-');
    const bigImport = (name: string, count: number) => {
      const file = path.join(outside.dir, name);
      fs.writeFileSync(
        file,
        JSON.stringify(
          Array.from({ length: count }, (_, i) => ({
            title: `${name} ${i}`,
            prompt: 'p'.repeat(600),
            run: 'true',
          })),
        ),
      );
      return file;
    };
    try {
      // A board of ~400 KB, so that rewriting it needs more room than one journal line.
      expect(run(['task', 'import', bigImport('board', 300)]).code).toBe(0);
      const acknowledged = tasks().map((t) => t.id);
      for (let i = 0; i < 5; i++) {
        const added = run(['task', 'add', `kept ${i}`, '--run', 'true', '--json']);
        expect(added.code).toBe(0);
        acknowledged.push(added.json<TaskJson>().id);
      }
      const before = checkJournal();

      // 64 KiB left: a ~400 KB journal line is cut short by ENOSPC mid-write, and taken back.
      fillDisk(64 * 1024);
      const cut = run(['task', 'import', bigImport('cut', 400)]);
      expect(cut.code, cut.stderr).toBe(1);
      expect(cut.stderr).toMatch(/could not write the journal \(ENOSPC: no space left on device/);
      expect(checkJournal()).toBe(before);
      noTempFilesLeft();

      // No room at all: a small change is refused the same way, with a message, not a stack trace.
      fillDisk(0);
      const full = run(['task', 'add', 'no room', '--run', 'true']);
      expect(full.code, full.stderr).toBe(1);
      expect(full.stderr).toMatch(/ENOSPC: no space left on device/);
      expect(full.stderr).not.toMatch(/\n\s+at /);
      expect(checkJournal()).toBe(before);
      noTempFilesLeft();
      // Reading still works on a full disk, and shows exactly the acknowledged tasks.
      const listed = run(['task', 'list', '--json']);
      expect(listed.code, listed.stderr).toBe(0);
      expect(
        listed
          .json<TaskJson[]>()
          .map((t) => t.id)
          .sort(),
      ).toEqual([...acknowledged].sort());

      // Room for the journal line but not for the board rewrite: the change is saved, the command says
      // so and fails; the old board stays whole (a short write once renamed a truncated board into place).
      fillDisk(16 * 1024);
      const behind = run(['task', 'add', 'journaled', '--run', 'true']);
      expect(behind.code, behind.stderr).toBe(1);
      expect(behind.stderr).toMatch(/every change is saved in the journal, .*ENOSPC/);
      expect(checkJournal()).toBe(before + 1);
      noTempFilesLeft();
      checkBoards();

      fs.rmSync(filler);
      const after = tasks();
      expect(after.map((t) => t.id)).toEqual(expect.arrayContaining(acknowledged));
      expect(after.map((t) => t.title)).toContain('journaled');
      expect(after).toHaveLength(acknowledged.length + 1);
      expect(fs.readdirSync(path.join(home, 'quarantine'))).toEqual([]);
      checkBoards();
      doctorOk();
    } finally {
      outside.cleanup();
    }
  }, 120_000);

  it('a running orchestrator rides out a full disk: errors reported, every task done once after space returns', async () => {
    initWorkspace(mountPoint);
    const outside = tempDir('dreamos-full-ran-');
    const ran = path.join(outside.dir, 'ran.log');
    try {
      importTasks(
        Array.from({ length: 24 }, (_, i) => ({
          title: `t${i}`,
          run: `sleep 1; echo "$DREAMOS_TASK_ID" >> ${ran}`,
          maxAttempts: 10,
        })),
      );
      const orchestrator = startOrchestrator(['--until-idle']);
      await waitFor(() => orchestrator.events().filter((e) => e.type === 'claimed').length >= 8);
      fillDisk(0);
      // It notices (a failed heartbeat or outcome), and goes on running; then the space comes back.
      await waitFor(() =>
        orchestrator.events().some((e) => e.type === 'error' && /ENOSPC/.test(String(e.message))),
      );
      await sleep(1500);
      fs.rmSync(filler);
      expect(await orchestrator.exited, orchestrator.stderr()).toBe(0);

      const all = tasks();
      expectAllDoneOnce(all, 24);
      const lines = fs.readFileSync(ran, 'utf8').split('\n').filter(Boolean);
      for (const t of all) {
        const runs = lines.filter((l) => l === t.id).length;
        expect(runs, t.id).toBeGreaterThanOrEqual(1);
        expect(runs, t.id).toBeLessThanOrEqual(t.attempts);
      }
      checkJournal();
      noTempFilesLeft();
      checkBoards();
      doctorOk();
      expect(drivenProcesses()).toEqual([]);
    } finally {
      outside.cleanup();
    }
  }, 120_000);
});

async function waitFor(check: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await sleep(50);
  }
}
