/**
 * `dreamos init` and how every command finds its workspace: --home, DREAMOS_HOME, and the nearest
 * `.dreamos/` upwards from the current folder, like git.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Task } from '../../../state/schemas.js';
import { board, dreamos, expectError, expectJsonError, show } from '../../helpers/cli.js';
import { BIN, tempDir } from '../../helpers/workspace.js';

// Each test starts dozens of real processes: a loaded machine is slow, not wrong.
vi.setConfig({ testTimeout: 180_000 });

let tmp: ReturnType<typeof tempDir>;
beforeEach(() => {
  tmp = tempDir('dreamos-cli-ws-');
});
afterEach(() => tmp.cleanup());

const at = (cwd: string, args: string[], env?: Record<string, string>) =>
  dreamos(args, { cwd, ...(env ? { env } : {}) });
const titles = (r: ReturnType<typeof dreamos>) => {
  expect(r.code, show(r)).toBe(0);
  return r.json<Task[]>().map((t) => t.title);
};
const addIn = (cwd: string, title: string, ...extra: string[]) => {
  const r = at(cwd, ['task', 'add', title, '--json', ...extra]);
  expect(r.code, show(r)).toBe(0);
  return r.json<Task>();
};

function ancestors(dir: string): string[] {
  const parent = path.dirname(dir);
  return parent === dir ? [dir] : [dir, ...ancestors(parent)];
}

describe('dreamos init', () => {
  it('creates .dreamos/ in the current folder with the default agents and the documented layout', () => {
    const r = at(tmp.dir, ['init', '--json']);
    expect(r.code, show(r)).toBe(0);
    const out = r.json<{ home: string; agents: string[]; tasks: string[] }>();
    const home = path.join(fs.realpathSync(tmp.dir), '.dreamos');
    expect(fs.realpathSync(out.home)).toBe(home);
    expect(out.agents).toEqual([1, 2, 3, 4, 5, 6, 7, 8].map((n) => `agent-${n}`));
    expect(out.tasks).toEqual([]);
    for (const file of [
      'config.json',
      'config.schema.json',
      'boards/task_backlog.json',
      'boards/task_ready_queue.json',
      'boards/working_tasks.json',
      'boards/completed_tasks.json',
      'alerts.json',
    ]) {
      expect(fs.existsSync(path.join(home, file)), file).toBe(true);
    }
    for (const dir of ['journal', 'quarantine', 'mailboxes', 'checkpoints', 'logs', 'archive']) {
      expect(fs.statSync(path.join(home, dir)).isDirectory(), dir).toBe(true);
    }
    const config = JSON.parse(fs.readFileSync(path.join(home, 'config.json'), 'utf8'));
    expect(config.agents).toHaveLength(8);
    expect(at(tmp.dir, ['task', 'list', '--json']).json()).toEqual([]);
  });

  it('says what it created, for people', () => {
    const r = at(tmp.dir, ['init']);
    expect(r.code, show(r)).toBe(0);
    expect(r.stdout).toMatch(/^created .*\.dreamos with 8 agents\n/);
    // The test setup keeps every agent on the shell driver: init says what that means for prompts.
    expect(r.stdout).toContain('prompt tasks need a driver');
  });

  it('refuses to initialise a workspace twice (exit 4) and leaves the existing one alone', () => {
    expect(at(tmp.dir, ['init']).code).toBe(0);
    const kept = addIn(tmp.dir, 'keep me');
    const config = fs.readFileSync(path.join(tmp.dir, '.dreamos', 'config.json'), 'utf8');
    expectError(at(tmp.dir, ['init']), 4, /a workspace already exists at .*\.dreamos/);
    expectJsonError(at(tmp.dir, ['init', '--json']), 4, 'E_CONFLICT', /already exists/);
    expect(fs.readFileSync(path.join(tmp.dir, '.dreamos', 'config.json'), 'utf8')).toBe(config);
    expect(at(tmp.dir, ['task', 'list', '--json']).json<Task[]>()).toEqual([kept]);
  });

  it('creates the workspace in another folder with --dir', () => {
    const project = path.join(tmp.dir, 'project');
    fs.mkdirSync(project);
    expect(at(tmp.dir, ['init', '--dir', project]).code).toBe(0);
    expect(fs.existsSync(path.join(project, '.dreamos', 'config.json'))).toBe(true);
    expect(fs.existsSync(path.join(tmp.dir, '.dreamos'))).toBe(false);
  });

  it('creates the --dir folder itself when its parent exists, but never a chain of parents', () => {
    const fresh = path.join(tmp.dir, 'fresh');
    expect(at(tmp.dir, ['init', '--dir', fresh]).code).toBe(0);
    expect(fs.existsSync(path.join(fresh, '.dreamos', 'config.json'))).toBe(true);
    const deep = path.join(tmp.dir, 'no', 'such', 'dir');
    expectError(
      at(tmp.dir, ['init', '--dir', deep]),
      3,
      /parent folder .*no[/]such does not exist.*mkdir -p/,
    );
    expect(fs.existsSync(path.join(tmp.dir, 'no'))).toBe(false);
    const file = path.join(tmp.dir, 'a-file');
    fs.writeFileSync(file, 'x');
    expectError(at(tmp.dir, ['init', '--dir', file]), 2, /not a folder/);
  });

  // Node's recursive mkdir loops for ever, deaf to SIGTERM, where the kernel answers ENOENT (/proc):
  // the helper kills a hung child after its timeout, so a regression fails instead of hanging.
  it.runIf(fs.existsSync('/proc/self'))(
    'refuses a folder where nothing can be created (/proc), at once',
    () => {
      expectError(at(tmp.dir, ['init', '--dir', '/proc']), 1, /cannot create \/proc\/\.dreamos/);
      expect(fs.existsSync('/proc/.dreamos')).toBe(false);
    },
  );

  it('makes the workspace private to its user whatever the umask (folders 700, files 600)', () => {
    const shell = (script: string) => {
      const r = spawnSync('sh', ['-c', `umask 022; ${script}`], { cwd: tmp.dir, encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
    };
    const d = `${JSON.stringify(process.execPath)} ${JSON.stringify(BIN)}`;
    shell(`${d} init && ${d} task add x --run 'echo hi' && ${d} run --until-idle`);
    const loose: string[] = [];
    const walk = (p: string) => {
      const st = fs.lstatSync(p);
      const mode = st.mode & 0o777;
      if (st.isDirectory()) {
        if (mode !== 0o700) loose.push(`${mode.toString(8)} ${p}`);
        for (const name of fs.readdirSync(p)) walk(path.join(p, name));
      } else if (st.isFile() && mode !== 0o600) loose.push(`${mode.toString(8)} ${p}`);
    };
    walk(path.join(tmp.dir, '.dreamos'));
    expect(fs.existsSync(path.join(tmp.dir, '.dreamos', 'logs', 'agent-1'))).toBe(true);
    expect(loose).toEqual([]);
  });
});

describe('finding the workspace', () => {
  it('exits 3 with a hint when there is no workspace here or above', () => {
    const above = ancestors(tmp.dir).filter((d) => fs.existsSync(path.join(d, '.dreamos', 'config.json')));
    expect(above, 'a workspace above the temp folder would be found instead').toEqual([]);
    for (const args of [['task', 'list'], ['status'], ['log'], ['doctor'], ['task', 'add', 'x']]) {
      expectError(at(tmp.dir, args), 3, /no Dream\.OS workspace here or in any parent folder.*dreamos init/);
    }
    expectJsonError(at(tmp.dir, ['status', '--json']), 3, 'E_NO_WORKSPACE');
    expect(fs.existsSync(path.join(tmp.dir, '.dreamos'))).toBe(false);
  });

  it('finds the nearest .dreamos/ upwards from a subfolder, and writes there', () => {
    expect(at(tmp.dir, ['init']).code).toBe(0);
    const deep = path.join(tmp.dir, 'a', 'b', 'c');
    fs.mkdirSync(deep, { recursive: true });
    addIn(tmp.dir, 'from the top');
    addIn(deep, 'from below');
    expect(titles(at(deep, ['task', 'list', '--json']))).toEqual(['from the top', 'from below']);
    expect(titles(at(tmp.dir, ['task', 'list', '--json']))).toEqual(['from the top', 'from below']);
    expect(fs.existsSync(path.join(deep, '.dreamos'))).toBe(false);
  });

  it('prefers the nearest of two nested workspaces', () => {
    const inner = path.join(tmp.dir, 'inner');
    fs.mkdirSync(inner);
    expect(at(tmp.dir, ['init']).code).toBe(0);
    expect(at(inner, ['init']).code).toBe(0);
    addIn(tmp.dir, 'outer task');
    addIn(inner, 'inner task');
    const below = path.join(inner, 'src');
    fs.mkdirSync(below);
    expect(titles(at(below, ['task', 'list', '--json']))).toEqual(['inner task']);
  });

  it('uses --home (the project folder or its .dreamos/) from anywhere', () => {
    const b = board();
    try {
      addIn(b.dir, 'at home');
      const elsewhere = tmp.dir; // no workspace here
      expect(titles(at(elsewhere, ['--home', b.dir, 'task', 'list', '--json']))).toEqual(['at home']);
      expect(
        titles(at(elsewhere, ['task', 'list', '--home', path.join(b.dir, '.dreamos'), '--json'])),
      ).toEqual(['at home']);
      const added = at(elsewhere, ['--home', b.dir, 'task', 'add', 'via --home', '--json']);
      expect(added.code, show(added)).toBe(0);
      expect(b.list().map((t) => t.title)).toEqual(['at home', 'via --home']);
      expect(fs.existsSync(path.join(elsewhere, '.dreamos'))).toBe(false);
    } finally {
      b.cleanup();
    }
  });

  it('uses DREAMOS_HOME, and --home wins over it', () => {
    const one = board();
    const two = board();
    try {
      addIn(one.dir, 'in one');
      addIn(two.dir, 'in two');
      const env = { DREAMOS_HOME: one.dir };
      expect(titles(at(tmp.dir, ['task', 'list', '--json'], env))).toEqual(['in one']);
      // DREAMOS_HOME is explicit: it wins over the workspace of the current folder too.
      expect(titles(at(two.dir, ['task', 'list', '--json'], env))).toEqual(['in one']);
      expect(titles(at(tmp.dir, ['--home', two.dir, 'task', 'list', '--json'], env))).toEqual(['in two']);
    } finally {
      one.cleanup();
      two.cleanup();
    }
  });

  it('tells a project folder with a config.json of its own from a workspace (exit 3, not "corrupt")', () => {
    const project = path.join(tmp.dir, 'project');
    fs.mkdirSync(project);
    fs.writeFileSync(path.join(project, 'config.json'), '{"name": "my-app", "port": 8080}\n');
    for (const args of [['status'], ['doctor'], ['task', 'add', 'x']]) {
      expectError(
        at(tmp.dir, ['--home', project, ...args]),
        3,
        /project is not a Dream\.OS workspace .*config\.json is not one.*dreamos init/,
      );
    }
    expect(fs.readFileSync(path.join(project, 'config.json'), 'utf8')).toContain('my-app');
    // Once it has a workspace, --home PROJECT means that workspace, its own config.json aside.
    expect(at(project, ['init']).code).toBe(0);
    addIn(project, 'in the workspace');
    expect(titles(at(tmp.dir, ['--home', project, 'task', 'list', '--json']))).toEqual(['in the workspace']);
  });

  it('exits 3 when --home or DREAMOS_HOME names a folder without a workspace', () => {
    const missing = path.join(tmp.dir, 'nothing-here');
    expectError(at(tmp.dir, ['--home', missing, 'status']), 3, /no Dream\.OS workspace at .*nothing-here/);
    expectError(at(tmp.dir, ['status'], { DREAMOS_HOME: missing }), 3, /no Dream\.OS workspace at/);
    expectJsonError(at(tmp.dir, ['--home', missing, 'task', 'list', '--json']), 3, 'E_NO_WORKSPACE');
    expect(fs.existsSync(missing)).toBe(false);
  });
});

describe('the state backend a workspace records', () => {
  const configOf = (home: string) => path.join(home, '.dreamos', 'config.json');
  const editConfig = (home: string, edit: (config: Record<string, unknown>) => void) => {
    const config = JSON.parse(fs.readFileSync(configOf(home), 'utf8'));
    edit(config);
    fs.writeFileSync(configOf(home), `${JSON.stringify(config, null, 1)}\n`);
  };

  it('init records it in config.json (--backend, only known names), and config.schema.json describes it', () => {
    expect(at(tmp.dir, ['init', '--backend', 'nosuch']).code).toBe(2);
    expect(fs.existsSync(path.join(tmp.dir, '.dreamos'))).toBe(false);
    expect(at(tmp.dir, ['init', '--backend', 'json']).code).toBe(0);
    const config = JSON.parse(fs.readFileSync(configOf(tmp.dir), 'utf8'));
    expect(config.state).toEqual({ backend: 'json' });
    const schema = JSON.parse(fs.readFileSync(path.join(tmp.dir, '.dreamos', 'config.schema.json'), 'utf8'));
    expect(schema.properties.state.properties.backend.type).toBe('string');
  });

  it('refuses a config.json naming a backend it does not know (exit 6), listing the known ones', () => {
    expect(at(tmp.dir, ['init']).code).toBe(0);
    addIn(tmp.dir, 'before');
    editConfig(tmp.dir, (config) => {
      config.state = { backend: 'mongodb' };
    });
    const unknown =
      /names the state backend "mongodb", which this Dream\.OS does not know \(known: json, postgres\)/;
    for (const args of [['task', 'list'], ['log'], ['status']]) {
      expectJsonError(at(tmp.dir, [...args, '--json']), 6, 'E_CORRUPT', unknown);
    }
  });

  it('keeps a JSON workspace in its files when DREAMOS_STORE names a server for another', () => {
    expect(at(tmp.dir, ['init']).code).toBe(0);
    const elsewhere = { DREAMOS_STORE: 'postgres://nobody@127.0.0.1:1/other' };
    const added = at(tmp.dir, ['task', 'add', 'stays here', '--json'], elsewhere);
    expect(added.code).toBe(0);
    const listed = at(tmp.dir, ['task', 'list', '--json'], elsewhere);
    expect(JSON.parse(listed.stdout).map((t: { title: string }) => t.title)).toEqual(['stays here']);
  });

  it('opens a config.json written before the choice was recorded as json', () => {
    expect(at(tmp.dir, ['init']).code).toBe(0);
    addIn(tmp.dir, 'before');
    editConfig(tmp.dir, (config) => {
      delete config.state;
    });
    addIn(tmp.dir, 'after');
    expect(titles(at(tmp.dir, ['task', 'list', '--json']))).toEqual(['before', 'after']);
    const log = at(tmp.dir, ['log', '--json']);
    expect(log.code, show(log)).toBe(0);
    expect(at(tmp.dir, ['doctor']).code).toBe(0);
  });
});
