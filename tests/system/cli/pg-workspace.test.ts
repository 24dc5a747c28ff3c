/**
 * A PostgreSQL workspace driven through the CLI: init, the board commands, doctor, the address and its
 * password, an unreachable server, a schema of another version, and `dreamos db migrate`.
 */
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { afterEach, expect, it } from 'vitest';
import type { Task } from '../../../state/schemas.js';
import { show } from '../../helpers/cli.js';
import { describePg, TEST_PG_URL, testSchema } from '../../helpers/pg.js';
import { type CliResult, cli, tempDir } from '../../helpers/workspace.js';

const PASSWORD = 'Sesame-9f3c';
/** The test server's address with a password in it (it trusts every connection, so any will do). */
const withPassword = (url: string, port?: number) => {
  const u = new URL(url);
  u.password = PASSWORD;
  if (port !== undefined) u.port = String(port);
  return u.toString();
};

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

/** A temporary folder and `dreamos ARGS` run in it. */
function folder() {
  const tmp = tempDir('dreamos-pg-cli-');
  cleanups.push(tmp.cleanup);
  const run = (args: string[], env: Record<string, string> = {}): CliResult =>
    cli(args, { cwd: tmp.dir, env: { DREAMOS_INIT_DRIVER: 'shell', DREAMOS_STORE: '', ...env } });
  return { dir: tmp.dir, run };
}

async function sql(schema: string, text: string): Promise<void> {
  const client = new pg.Client({ connectionString: TEST_PG_URL });
  await client.connect();
  try {
    await client.query(`SET search_path = "${schema}"`);
    await client.query(text);
  } finally {
    await client.end();
  }
}

const output = (r: CliResult) => r.stdout + r.stderr;

describePg('a PostgreSQL workspace through the CLI', () => {
  it('is made by init --backend postgres, and the board commands work on it', async () => {
    const { schema } = await testSchema('dreamos_cli');
    const { dir, run } = folder();
    const init = run(['init', '--backend', 'postgres', '--store', TEST_PG_URL, '--schema', schema]);
    expect(init.code, show(init)).toBe(0);
    const config = JSON.parse(fs.readFileSync(path.join(dir, '.dreamos', 'config.json'), 'utf8'));
    expect(config.state).toEqual({ backend: 'postgres', url: TEST_PG_URL, schema });
    expect(fs.existsSync(path.join(dir, '.dreamos', 'journal'))).toBe(false);

    const added = run(['task', 'add', 'write the docs', '--run', 'true', '--json']);
    expect(added.code, show(added)).toBe(0);
    const task = added.json<Task>();
    const list = run(['task', 'list', '--json']);
    expect(list.code, show(list)).toBe(0);
    expect(list.json<Task[]>().map((t) => t.id)).toEqual([task.id]);
    const shown = run(['task', 'show', task.id, '--json']);
    expect(shown.code, show(shown)).toBe(0);
    expect(shown.json<Task>()).toEqual(task);

    const status = run(['status']);
    expect(status.code, show(status)).toBe(0);
    expect(status.stdout).toMatch(/ready/);
    const log = run(['log']);
    expect(log.code, show(log)).toBe(0);
    expect(log.stdout).toContain('init');
    expect(log.stdout).toContain(task.id);

    // doctor once exited 0 having printed nothing: an unreferenced socket let the process end mid-check.
    const doctor = run(['doctor']);
    expect(doctor.code, show(doctor)).toBe(0);
    expect(doctor.stdout).toMatch(/^ok: 1 task, journal seq 2$/m);
  });

  it('refuses a password in --store, without showing it', async () => {
    const { schema } = await testSchema('dreamos_cli');
    const { dir, run } = folder();
    const r = run([
      'init',
      '--backend',
      'postgres',
      '--store',
      withPassword(TEST_PG_URL),
      '--schema',
      schema,
    ]);
    expect(r.code, show(r)).toBe(2);
    expect(r.stderr).toMatch(/password/);
    expect(output(r)).not.toContain(PASSWORD);
    expect(fs.existsSync(path.join(dir, '.dreamos', 'config.json'))).toBe(false);
  });

  it('takes a password from DREAMOS_STORE and never prints it, not even when the server is unreachable', async () => {
    const { schema } = await testSchema('dreamos_cli');
    const { dir, run } = folder();
    const env = { DREAMOS_STORE: withPassword(TEST_PG_URL) };
    const outputs: CliResult[] = [];
    const ok = (args: string[], e = env) => {
      const r = run(args, e);
      outputs.push(r);
      expect(r.code, show(r)).toBe(0);
      return r;
    };
    ok(['init', '--schema', schema]);
    const config = fs.readFileSync(path.join(dir, '.dreamos', 'config.json'), 'utf8');
    expect(config).not.toContain(PASSWORD);
    expect(JSON.parse(config).state).toEqual({ backend: 'postgres', schema });
    const task = ok(['task', 'add', 'a task', '--json']).json<Task>();
    ok(['task', 'list']);
    ok(['task', 'show', task.id]);
    ok(['status']);
    ok(['log']);
    ok(['doctor']);
    ok(['db', 'migrate']);
    ok(['db', 'migrate', '--json']);

    // Port 1: nothing listens there.
    const away = { DREAMOS_STORE: withPassword(TEST_PG_URL, 1) };
    for (const args of [
      ['task', 'list'],
      ['task', 'list', '--json'],
      ['doctor'],
      ['log'],
      ['db', 'migrate'],
    ]) {
      const r = run(args, away);
      outputs.push(r);
      expect(r.code, show(r)).toBe(1);
      expect(r.stderr, show(r)).toMatch(
        /cannot reach PostgreSQL at postgres:\/\/postgres@127\.0\.0\.1:1\/test/,
      );
    }
    for (const r of outputs) expect(output(r)).not.toContain(PASSWORD);
  });

  it('says clearly when the server cannot be reached (E_IO, exit 1)', async () => {
    const { schema } = await testSchema('dreamos_cli');
    const { dir, run } = folder();
    expect(run(['init', '--backend', 'postgres', '--store', TEST_PG_URL, '--schema', schema]).code).toBe(0);
    const file = path.join(dir, '.dreamos', 'config.json');
    const config = JSON.parse(fs.readFileSync(file, 'utf8'));
    config.state.url = 'postgres://postgres@127.0.0.1:1/test';
    fs.writeFileSync(file, JSON.stringify(config));
    const r = run(['task', 'list', '--json']);
    expect(r.code, show(r)).toBe(1);
    expect(r.json<{ error: { code: string } }>().error.code).toBe('E_IO');
    expect(r.stderr).toMatch(
      /^dreamos: cannot reach PostgreSQL at postgres:\/\/postgres@127\.0\.0\.1:1\/test \(schema \w+\)/,
    );
  });

  it('refuses a schema newer than this Dream.OS, with what to do (exit 6)', async () => {
    const { schema } = await testSchema('dreamos_cli');
    const { run } = folder();
    expect(run(['init', '--backend', 'postgres', '--store', TEST_PG_URL, '--schema', schema]).code).toBe(0);
    await sql(schema, `INSERT INTO schema_version (version, name) VALUES (99, 'from the future')`);
    for (const args of [['task', 'list'], ['doctor'], ['db', 'migrate']]) {
      const r = run(args);
      expect(r.code, show(r)).toBe(6);
      expect(r.stderr).toMatch(
        /schema version 99, newer than this Dream\.OS knows \(5\): upgrade Dream\.OS on this host/,
      );
    }
  });

  it('brings a board of schema version 1 to the current version with db migrate, every task kept', async () => {
    const { schema } = await testSchema('dreamos_cli');
    const { run } = folder();
    expect(run(['init', '--backend', 'postgres', '--store', TEST_PG_URL, '--schema', schema]).code).toBe(0);
    const added = run(['task', 'add', 'made at version 1', '--run', 'true', '--json']);
    expect(added.code, show(added)).toBe(0);
    const task = added.json<Task>();
    // The schema as version 1 left it.
    await sql(schema, 'DROP TABLE dedupe_keys');
    await sql(schema, 'DROP FUNCTION record_if_latest');
    await sql(schema, 'DROP FUNCTION record_line');
    await sql(schema, 'DROP FUNCTION record_at_head');
    await sql(schema, 'DROP FUNCTION record_entries');
    await sql(schema, 'ALTER TABLE journal DROP COLUMN touched');
    await sql(schema, 'DELETE FROM schema_version WHERE version > 1');

    const before = run(['task', 'list']);
    expect(before.code, show(before)).toBe(6);
    expect(before.stderr).toContain('dreamos db migrate');
    const migrated = run(['db', 'migrate']);
    expect(migrated.code, show(migrated)).toBe(0);
    expect(migrated.stdout).toBe(
      `schema ${schema} at ${TEST_PG_URL}: version 1 → 5, applied: 2 (a change recorded in one round trip if planned on the latest entry), 3 (dedupe keys of archived tasks kept after retention), 4 (entries parsed once when recorded, and the next entry looked up by its number), 5 (hot changes recorded on top of later entries they do not conflict with)\n`,
    );
    const listed = run(['task', 'list', '--json']);
    expect(listed.code, show(listed)).toBe(0);
    expect(listed.json<Task[]>().map((t) => [t.id, t.title])).toEqual([[task.id, 'made at version 1']]);
    const claimed = run(['task', 'claim', '--task', task.id, '--agent', 'agent-1', '--json']);
    expect(claimed.code, show(claimed)).toBe(0);
    expect(claimed.json<Task>().status).toBe('working');
  });

  it('brings an empty schema to the current version with db migrate, once', async () => {
    const { schema } = await testSchema('dreamos_cli');
    const empty = await testSchema('dreamos_cli');
    const { dir, run } = folder();
    expect(run(['init', '--backend', 'postgres', '--store', TEST_PG_URL, '--schema', schema]).code).toBe(0);
    const file = path.join(dir, '.dreamos', 'config.json');
    const config = JSON.parse(fs.readFileSync(file, 'utf8'));
    config.state.schema = empty.schema;
    fs.writeFileSync(file, JSON.stringify(config));

    const before = run(['task', 'list']);
    expect(before.code, show(before)).toBe(6);
    expect(before.stderr).toContain('dreamos db migrate');

    const migrated = run(['db', 'migrate']);
    expect(migrated.code, show(migrated)).toBe(0);
    expect(migrated.stdout).toBe(
      `schema ${empty.schema} at ${TEST_PG_URL}: version 0 → 5, applied: 1 (tables of the board, the journal and the leader), 2 (a change recorded in one round trip if planned on the latest entry), 3 (dedupe keys of archived tasks kept after retention), 4 (entries parsed once when recorded, and the next entry looked up by its number), 5 (hot changes recorded on top of later entries they do not conflict with)\n`,
    );
    const again = run(['db', 'migrate', '--json']);
    expect(again.code, show(again)).toBe(0);
    expect(again.json()).toEqual({ schema: empty.schema, url: TEST_PG_URL, from: 5, to: 5, applied: [] });
    const after = run(['task', 'list', '--json']);
    expect(after.code, show(after)).toBe(0);
    expect(after.json()).toEqual([]);
  });

  it('tells a JSON workspace that db migrate is for PostgreSQL workspaces', () => {
    const { run } = folder();
    expect(run(['init']).code).toBe(0);
    const r = run(['db', 'migrate']);
    expect(r.code, show(r)).toBe(2);
    expect(r.stderr).toMatch(
      /dreamos db migrate applies to PostgreSQL workspaces only; .* keeps its state in json/,
    );
  });
});
