/**
 * Plugins as a user meets them: `dreamos plugin list` (which plugins loaded, and why the others did
 * not), the shipped examples importing `definePlugin` from the `dreamos` package, and `dreamos run`
 * with a plugin that throws (the run goes on) and the Discord notifier posting to a fake Discord.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Board, board, show } from '../../helpers/cli.js';
import { ROOT } from '../../helpers/workspace.js';

interface Report {
  name: string | null;
  version: string | null;
  from: string;
  origin: string;
  state: string;
  reason: string | null;
  notifiers: string[];
  sources: string[];
  drivers: string[];
  onEvent: boolean;
  notes: string[];
}

let b: Board;
beforeEach(() => {
  b = board();
  fs.mkdirSync(pluginDir(), { mode: 0o700 });
});
afterEach(() => b.cleanup());

const pluginDir = () => path.join(b.dir, '.dreamos', 'plugins');
function plugin(file: string, source: string, mode = 0o600): void {
  fs.writeFileSync(path.join(pluginDir(), file), source, { mode });
  fs.chmodSync(path.join(pluginDir(), file), mode);
}
/** The project depends on dreamos, as a plugin author's project does. */
function installDreamos(): void {
  fs.mkdirSync(path.join(b.dir, 'node_modules'), { recursive: true });
  fs.symlinkSync(ROOT, path.join(b.dir, 'node_modules', 'dreamos'));
}
function editConfig(edit: (config: Record<string, unknown>) => void): void {
  const file = path.join(b.dir, '.dreamos', 'config.json');
  const config = JSON.parse(fs.readFileSync(file, 'utf8'));
  edit(config);
  fs.writeFileSync(file, JSON.stringify(config, null, 2));
}

describe('dreamos plugin list', () => {
  it('shows what loaded and why the rest did not, and changes nothing', () => {
    installDreamos();
    plugin(
      'good.mjs',
      `import { definePlugin } from 'dreamos';
      export default definePlugin({
        name: 'good', version: '2.1.0',
        notifiers: [{ name: 'log', notify() {} }],
        drivers: [{ kind: 'mine', run() {} }],
        onEvent() {},
      });`,
    );
    plugin('bad.mjs', `export default { name: 'bad', version: '1.0.0', notifiers: [{ name: 'n' }] };`);
    plugin('open.mjs', `export default { name: 'open', version: '1.0.0' };`, 0o666);
    // A package named in config.json, installed in the project.
    const pkg = path.join(b.dir, 'node_modules', 'dreamos-plugin-hello');
    fs.mkdirSync(pkg);
    fs.writeFileSync(
      path.join(pkg, 'package.json'),
      JSON.stringify({ name: 'dreamos-plugin-hello', main: 'index.mjs' }),
    );
    fs.writeFileSync(
      path.join(pkg, 'index.mjs'),
      `export default { name: 'hello', version: '0.1.0', onEvent() {} };`,
    );
    editConfig((c) => {
      c.plugins = ['dreamos-plugin-hello', 'not-installed'];
    });
    const before = b.state();

    const reports = b.json<Report[]>('plugin', 'list');
    expect(reports.map((r) => [r.from, r.origin, r.state, r.name])).toEqual([
      ['.dreamos/plugins/bad.mjs', 'file', 'refused', null],
      ['.dreamos/plugins/good.mjs', 'file', 'on', 'good'],
      ['.dreamos/plugins/open.mjs', 'file', 'refused', null],
      ['dreamos-plugin-hello', 'package', 'on', 'hello'],
      ['not-installed', 'package', 'refused', null],
    ]);
    const [bad, good, open, , missing] = reports;
    expect(bad!.reason).toBe('its definition is wrong: notifiers.0.notify: a function');
    expect(good).toMatchObject({ version: '2.1.0', notifiers: ['log'], drivers: ['mine'], onEvent: true });
    expect(good!.notes).toEqual([]);
    expect(open!.reason).toMatch(/^every user may write in it \(mode 666\)/);
    expect(missing!.reason).toMatch(/^the package not-installed is not installed in /);

    const human = b.run('plugin', 'list');
    expect(human.code, show(human)).toBe(0);
    expect(human.stdout).toMatch(/^PLUGIN +VERSION +STATE +FROM +OFFERS \/ WHY NOT$/m);
    expect(human.stdout).toMatch(
      /^good +2\.1\.0 +loaded +\.dreamos\/plugins\/good\.mjs +notifier log, driver mine, onEvent$/m,
    );
    expect(human.stdout).toMatch(/^- +- +refused +\.dreamos\/plugins\/bad\.mjs +its definition is wrong/m);
    // Listing writes nothing: no alert is raised by a look.
    expect(b.state()).toEqual(before);
  });

  it('says when there are none', () => {
    const r = b.run('plugin', 'list');
    expect(r.code, show(r)).toBe(0);
    expect(r.stdout).toMatch(/^no plugins/);
    expect(b.json('plugin', 'list')).toEqual([]);
  });

  it('loads the shipped examples', () => {
    installDreamos();
    for (const file of fs.readdirSync(path.join(ROOT, 'examples', 'plugins')))
      plugin(file, fs.readFileSync(path.join(ROOT, 'examples', 'plugins', file), 'utf8'));
    const r = b.run('plugin', 'list', '--json');
    expect(r.code, show(r)).toBe(0);
    const reports = JSON.parse(r.stdout) as Report[];
    expect(reports.map((x) => [x.name, x.state, x.reason])).toEqual([
      ['http-driver', 'on', null],
      ['ntfy-notifier', 'on', null],
      ['todo-source', 'on', null],
    ]);
    expect(reports[0]!.drivers).toEqual(['http']);
    expect(reports[2]!.sources).toEqual(['todo']);
  });
});

describe('dreamos run with plugins and the Discord notifier', () => {
  it('goes on when a plugin throws, raises its alert, and posts the dead letter to Discord', async () => {
    const posts: { url: string; body: { embeds: { title: string }[]; allowed_mentions: unknown } }[] = [];
    const server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c) => {
        body += c;
      });
      req.on('end', () => {
        posts.push({ url: req.url ?? '', body: JSON.parse(body) });
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const token = 'webhook-token-never-shown';
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/webhooks/42/${token}`;
    try {
      plugin(
        'thrower.mjs',
        `export default { name: 'thrower', version: '1.0.0', onEvent() { throw new Error('plugin bug'); } };`,
      );
      b.add('fails', '--run', 'exit 3', '--role', 'agent-1', '--max-attempts', '1');
      b.add('works', '--run', 'true', '--role', 'agent-1');
      const run = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
        // Run asynchronously: the fake Discord answers from this process.
        const child = spawn(
          process.execPath,
          [path.join(ROOT, 'bin', 'dreamos.js'), 'run', '--until-idle', '--agents', 'agent-1'],
          {
            cwd: b.dir,
            env: { ...process.env, DREAMOS_DISCORD_WEBHOOK_URL: url },
          },
        );
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d) => {
          stdout += d;
        });
        child.stderr.on('data', (d) => {
          stderr += d;
        });
        const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
        child.on('close', (code) => {
          clearTimeout(timer);
          resolve({ code, stdout, stderr });
        });
      });
      expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(7);
      expect(run.stderr).toContain('dreamos: plugin thrower switched off: onEvent threw: plugin bug');
      expect(run.stderr).toMatch(/stopped \(idle\): 1 done, 1 failed attempt/);
      expect(run.stdout + run.stderr).not.toContain(token);

      // The default events: the dead letter and the plugin's alert, each once (the attention items
      // about them add nothing), whichever batches they came in.
      expect(posts.flatMap((p) => p.body.embeds.map((e) => e.title)).sort()).toEqual([
        expect.stringMatching(/^T-\w+ failed: fails$/),
        expect.stringMatching(/^alert A-\w+ \(plugin\)$/),
      ]);
      for (const post of posts) {
        expect(post.url).toBe(`/api/webhooks/42/${token}?wait=true`);
        expect(post.body.allowed_mentions).toEqual({ parse: [] });
      }

      const alerts = b.json<{ kind: string; subject: string; message: string }[]>('alert', 'list');
      expect(alerts.filter((a) => a.kind === 'plugin')).toEqual([
        expect.objectContaining({
          subject: 'thrower',
          message: 'plugin thrower switched off: onEvent threw: plugin bug',
        }),
      ]);
      const config = fs.readFileSync(path.join(b.dir, '.dreamos', 'config.json'), 'utf8');
      expect(config).not.toContain(token);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
