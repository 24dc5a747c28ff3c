/**
 * Workspace trust (security review H1): a workspace that another user owns, or that others may write
 * in, is refused unless the user trusts it, whether it is found upwards or named by --home or
 * DREAMOS_HOME; and the upward search stops at the user's home folder.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { dreamos, expectError, show } from '../../helpers/cli.js';
import { BIN, tempDir } from '../../helpers/workspace.js';

vi.setConfig({ testTimeout: 180_000 });

const OTHER = 12345;
const canSwitchUser =
  typeof process.getuid === 'function' &&
  process.getuid() === 0 &&
  spawnSync('setpriv', ['--version']).status === 0;

let tmp: ReturnType<typeof tempDir>;
/** The user's own settings: empty unless a test writes a `safe` list, and no trust from the environment. */
let env: Record<string, string>;
beforeEach(() => {
  tmp = tempDir('dreamos-trust-');
  fs.chmodSync(tmp.dir, 0o755);
  fs.mkdirSync(path.join(tmp.dir, 'xdg'));
  env = { XDG_CONFIG_HOME: path.join(tmp.dir, 'xdg'), DREAMOS_SAFE_DIRS: '' };
});
afterEach(() => tmp.cleanup());

const at = (cwd: string, args: string[], extra: Record<string, string> = {}) =>
  dreamos(args, { cwd, env: { ...env, ...extra } });

/** Run the CLI as another user, exactly like the review's reproduction. */
function asOther(cwd: string, args: string[]) {
  const r = spawnSync(
    'setpriv',
    [`--reuid=${OTHER}`, `--regid=${OTHER}`, '--clear-groups', process.execPath, BIN, ...args],
    { cwd, encoding: 'utf8', env: { ...process.env, DREAMOS_NO_CODE_CACHE: '1' }, timeout: 60_000 },
  );
  expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
}

describe.runIf(canSwitchUser)("another user's workspace", () => {
  let shared: string;
  let victim: string;
  let ranAs: string;
  beforeEach(() => {
    shared = path.join(tmp.dir, 'shared');
    fs.mkdirSync(shared);
    fs.chmodSync(shared, 0o1777); // plays /tmp
    ranAs = path.join(shared, 'ran-as.txt');
    asOther(shared, ['init']);
    asOther(shared, ['task', 'add', 'innocent looking', '--run', `id > ${ranAs}`]);
    victim = path.join(shared, 'victimproj');
    fs.mkdirSync(victim);
  });

  it('is refused when found upwards: nothing of it runs, and one line says why and how to trust it', () => {
    for (const args of [['run', '--until-idle'], ['status'], ['task', 'list']]) {
      expectError(
        at(victim, args),
        1,
        new RegExp(
          `refusing the workspace .*shared/\\.dreamos: it belongs to uid ${OTHER}, not to you.*safe.*DREAMOS_SAFE_DIRS`,
        ),
      );
    }
    const bare = at(victim, []); // from a script: the hint, then the refused status
    expect(bare.code, show(bare)).toBe(1);
    expect(bare.stderr).toMatch(/refusing the workspace/);
    expect(fs.existsSync(ranAs)).toBe(false);
  });

  it('is refused through --home and DREAMOS_HOME too', () => {
    expectError(at(tmp.dir, ['--home', shared, 'status']), 1, /refusing the workspace .*belongs to uid/);
    expectError(at(tmp.dir, ['status'], { DREAMOS_HOME: shared }), 1, /refusing the workspace/);
    expectError(at(tmp.dir, ['--home', path.join(shared, '.dreamos'), 'task', 'list']), 1, /refusing/);
  });

  it('is used once the user trusts it, in DREAMOS_SAFE_DIRS or in the safe list of their own config', () => {
    const viaEnv = at(victim, ['status', '--json'], { DREAMOS_SAFE_DIRS: shared });
    expect(viaEnv.code, show(viaEnv)).toBe(0);
    // A relative entry would trust whatever folder it names from the current one: ignored.
    expectError(at(shared, ['status'], { DREAMOS_SAFE_DIRS: '.' }), 1, /refusing the workspace/);
    const viaTilde = at(victim, ['status'], { HOME: tmp.dir, DREAMOS_SAFE_DIRS: '~/shared' });
    expect(viaTilde.code, show(viaTilde)).toBe(0);
    fs.mkdirSync(path.join(tmp.dir, 'xdg', 'dreamos'));
    fs.writeFileSync(path.join(tmp.dir, 'xdg', 'dreamos', 'config.json'), JSON.stringify({ safe: [shared] }));
    const viaConfig = at(victim, ['task', 'list', '--json']);
    expect(viaConfig.code, show(viaConfig)).toBe(0);
    expect(viaConfig.json<{ title: string }[]>().map((t) => t.title)).toEqual(['innocent looking']);
  });
});

/** Run a shell command as the other user. */
function shAsOther(script: string) {
  const r = spawnSync(
    'setpriv',
    [`--reuid=${OTHER}`, `--regid=${OTHER}`, '--clear-groups', 'sh', '-c', script],
    {
      encoding: 'utf8',
      timeout: 60_000,
    },
  );
  expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
}

// The check and every later open use one resolved folder, and what lies above it must be safe too:
// otherwise a link flipped between the check and the use hands over another workspace.
describe.runIf(canSwitchUser)('a workspace reached through a folder another user controls', () => {
  it("refuses a .dreamos link that another user planted, even to the user's own workspace", () => {
    const mine = path.join(tmp.dir, 'mine');
    fs.mkdirSync(mine);
    expect(at(mine, ['init']).code).toBe(0);
    const shared = path.join(tmp.dir, 'shared');
    fs.mkdirSync(shared);
    fs.chmodSync(shared, 0o1777);
    shAsOther(`ln -s "${path.join(mine, '.dreamos')}" "${path.join(shared, '.dreamos')}"`);
    const below = path.join(shared, 'proj');
    fs.mkdirSync(below);
    expectError(
      at(below, ['status']),
      1,
      new RegExp(
        `refusing the workspace .*shared/\\.dreamos: it is a symbolic link that belongs to uid ${OTHER}`,
      ),
    );
    expectError(at(tmp.dir, ['--home', shared, 'task', 'list']), 1, /symbolic link that belongs to uid/);
    const trusted = at(below, ['status'], { DREAMOS_SAFE_DIRS: shared });
    expect(trusted.code, show(trusted)).toBe(0);
  });

  it('refuses a workspace whose parent folder another user may change, and names that folder', () => {
    const parent = path.join(tmp.dir, 'parent');
    const project = path.join(parent, 'p');
    fs.mkdirSync(project, { recursive: true });
    expect(at(project, ['init']).code).toBe(0);
    fs.chmodSync(parent, 0o777);
    expectError(
      at(project, ['status']),
      1,
      new RegExp(
        `refusing the workspace .*: every user may write in its folder ${tmp.dir}/parent \\(mode 777, no sticky bit\\)`,
      ),
    );
    fs.chmodSync(parent, 0o755);
    fs.chownSync(parent, OTHER, OTHER);
    expectError(
      at(project, ['status']),
      1,
      new RegExp(`its folder ${tmp.dir}/parent belongs to uid ${OTHER}`),
    );
    const trusted = at(project, ['status'], { DREAMOS_SAFE_DIRS: project });
    expect(trusted.code, show(trusted)).toBe(0);
    fs.chownSync(parent, 0, 0);
    fs.chmodSync(parent, 0o1777); // sticky, like /tmp: others may not rename what is not theirs
    const ok = at(project, ['status']);
    expect(ok.code, show(ok)).toBe(0);
  });
});

describe('workspace trust', () => {
  it('refuses its own workspace while group or others may write in it, and says the chmod', () => {
    const project = path.join(tmp.dir, 'p');
    fs.mkdirSync(project);
    expect(at(project, ['init']).code).toBe(0);
    const home = path.join(project, '.dreamos');
    fs.chmodSync(home, 0o775);
    expectError(at(project, ['status']), 1, /refusing the workspace .*its group may write in it.*chmod go-w/);
    fs.chmodSync(home, 0o757);
    expectError(at(project, ['status']), 1, /every user may write in it/);
    fs.chmodSync(home, 0o755);
    const r = at(project, ['status']);
    expect(r.code, show(r)).toBe(0);
  });

  // A private mount namespace: the tmpfs is seen by this one command only, and goes with it.
  it.runIf(canSwitchUser && spawnSync('unshare', ['--version']).status === 0)(
    'stops the upward search where the file system changes',
    () => {
      expect(at(tmp.dir, ['init']).code).toBe(0);
      const mounted = path.join(tmp.dir, 'mounted');
      fs.mkdirSync(mounted);
      const script = 'mount -t tmpfs none "$1" && mkdir "$1/p" && cd "$1/p" && exec "$2" "$3" status';
      const r = spawnSync('unshare', ['--mount', 'sh', '-c', script, 'sh', mounted, process.execPath, BIN], {
        encoding: 'utf8',
        env: { ...process.env, ...env },
        timeout: 60_000,
        killSignal: 'SIGKILL',
      });
      expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(3);
      expect(r.stderr).toMatch(/no Dream\.OS workspace here or in any parent folder up to .*mounted /);
      const same = at(mounted, ['status']); // the same folder, without the mount: found above
      expect(same.code, show(same)).toBe(0);
    },
  );

  it('uses a workspace reached through its own link by the resolved folder, the one it checked', () => {
    const real = path.join(tmp.dir, 'real');
    fs.mkdirSync(real);
    expect(at(real, ['init']).code).toBe(0);
    const project = path.join(tmp.dir, 'p');
    fs.mkdirSync(project);
    fs.symlinkSync(path.join(real, '.dreamos'), path.join(project, '.dreamos'));
    const r = at(project, ['status']);
    expect(r.code, show(r)).toBe(0);
    expect(r.stdout).toContain(`workspace ${path.join(real, '.dreamos')} `);
  });

  it('stops the upward search at the home folder', () => {
    expect(at(tmp.dir, ['init']).code).toBe(0);
    const home = path.join(tmp.dir, 'home');
    const inside = path.join(home, 'proj');
    fs.mkdirSync(inside, { recursive: true });
    expectError(at(inside, ['status'], { HOME: home }), 3, /no Dream\.OS workspace .* up to .*home /);
    const r = at(inside, ['status']); // with the real home folder elsewhere, the search goes on up
    expect(r.code, show(r)).toBe(0);
  });
});
