/**
 * `dreamos db import` and `dreamos db export`: a JSON workspace with some of everything goes into
 * PostgreSQL and comes back out the same, task for task and journal line for journal line; and what
 * either refuses.
 */
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openWorkspace } from '../../../src/workspace.js';
import { retain } from '../../../state/pg/retention.js';
import { Session } from '../../../state/pg/session.js';
import type { Task } from '../../../state/schemas.js';
import { show } from '../../helpers/cli.js';
import { describePg, TEST_PG_URL, testSchema } from '../../helpers/pg.js';
import { archivedTasks, archiveKeys, journalLines, makeRichWorkspace } from '../../helpers/rich-workspace.js';
import { type CliResult, cli, tempDir, writePolicies } from '../../helpers/workspace.js';

const tmp = tempDir('dreamos-pg-db-');
const source = path.join(tmp.dir, 'source');

function run(args: string[], cwd = tmp.dir): CliResult {
  return cli(args, { cwd, env: { DREAMOS_INIT_DRIVER: 'shell', DREAMOS_STORE: '' } });
}

function ok(args: string[]): CliResult {
  const r = run(args);
  expect(r.code, `dreamos ${args.join(' ')}\n${show(r)}`).toBe(0);
  return r;
}

/** Every task, whatever its stage, as `task list` shows it through the workspace at `home`. */
const tasksOf = (home: string) => ok(['--home', home, 'task', 'list', '--json']).json<Task[]>();

async function sql(schema: string, text: string): Promise<unknown[]> {
  const client = new pg.Client({ connectionString: TEST_PG_URL });
  await client.connect();
  try {
    await client.query(`SET search_path = "${schema}"`);
    return (await client.query(text)).rows;
  } finally {
    await client.end();
  }
}

describePg('dreamos db import and export', () => {
  beforeAll(() => {
    fs.mkdirSync(source);
    makeRichWorkspace(source);
  }, 180_000);
  afterAll(() => tmp.cleanup());

  it('imports a JSON workspace into PostgreSQL and exports it back unchanged', async () => {
    const { schema } = await testSchema('dreamos_db');
    const pgHome = path.join(tmp.dir, 'pg-round');
    const out = path.join(tmp.dir, 'json-round');
    const sourceHome = path.join(source, '.dreamos');

    const imported = ok([
      '--home',
      pgHome,
      'db',
      'import',
      '--from',
      source,
      '--store',
      TEST_PG_URL,
      '--schema',
      schema,
      '--json',
    ]).json<{ counts: Record<string, number> }>();
    const before = tasksOf(source);
    const archived = archivedTasks(sourceHome);
    expect(new Set(before.map((t) => t.status))).toEqual(
      new Set(['backlog', 'ready', 'working', 'done', 'failed', 'cancelled']),
    );
    expect(before.some((t) => t.dependsOn.length > 0)).toBe(true);
    expect(before.some((t) => t.status === 'ready' && t.attempts > 0 && t.notBefore)).toBe(true);
    expect(Object.keys(archived).length).toBeGreaterThan(0);
    expect(imported.counts).toMatchObject({
      tasks: before.length,
      archive: Object.keys(archived).length,
      journal: journalLines(sourceHome).length,
      checkpoints: 2,
      mail: 3, // the two sent, and the one pausing agent-6 sends it
    });
    expect(imported.counts.alerts).toBeGreaterThan(0);
    expect(imported.counts.agents).toBeGreaterThan(0);

    const config = JSON.parse(fs.readFileSync(path.join(pgHome, '.dreamos', 'config.json'), 'utf8'));
    expect(config.state).toEqual({ backend: 'postgres', url: TEST_PG_URL, schema });
    expect(tasksOf(pgHome)).toEqual(before);
    expect(ok(['--home', pgHome, 'doctor']).stdout).toMatch(/^ok: /);

    const exported = ok(['--home', pgHome, 'db', 'export', '--to', out]);
    expect(exported.stdout).toContain(`exported schema ${schema} to ${path.join(out, '.dreamos')}`);
    const outHome = path.join(out, '.dreamos');
    expect(JSON.parse(fs.readFileSync(path.join(outHome, 'config.json'), 'utf8')).state).toEqual({
      backend: 'json',
    });
    expect(journalLines(outHome)).toEqual(journalLines(sourceHome));
    expect(tasksOf(out)).toEqual(before);
    expect(archivedTasks(outHome)).toEqual(archived);
    // The dedupe key of an archived task stays taken in the export.
    const keyed = Object.entries(archived).find(([, t]) => (t as Task).dedupeKey === 'rich:done-1');
    expect(Object.values(archiveKeys(sourceHome))).toEqual([{ [keyed![0]]: 'rich:done-1' }]);
    expect(archiveKeys(outHome)).toEqual(archiveKeys(sourceHome));
    const again = ok(['--home', out, 'task', 'add', 'done 1 again', '--dedupe-key', 'rich:done-1', '--json']);
    expect(again.json<Task>()).toMatchObject({ title: 'done 1', status: 'done', dedupeKey: 'rich:done-1' });
    for (const home of [source, out]) {
      const doctor = ok(['--home', home, 'doctor']);
      expect(doctor.stdout, show(doctor)).toMatch(/^ok: /);
    }
    for (const args of [
      ['mail', 'list', '--all', '--agent', 'agent-1'],
      ['mail', 'list', '--all'],
      ['checkpoint', 'list', '--agent', 'agent-5'],
      ['alert', 'list'],
    ])
      expect(ok(['--home', out, ...args, '--json']).json()).toEqual(
        ok(['--home', source, ...args, '--json']).json(),
      );
    // Agents that never changed are shown with a state made up as they are listed: only recorded ones compare.
    const agentStates = (home: string) =>
      ok(['--home', home, 'agent', 'list', '--json'])
        .json<{ state: { rev: number } }[]>()
        .map((a) => a.state)
        .filter((state) => state.rev > 0);
    expect(agentStates(out)).toEqual(agentStates(source));
    expect(agentStates(source).length).toBeGreaterThan(0);
  });

  it('refuses a schema that holds a board already, and changes nothing', async () => {
    const { schema } = await testSchema('dreamos_db');
    const pgHome = path.join(tmp.dir, 'pg-full');
    ok(['init', '--dir', pgHome, '--backend', 'postgres', '--store', TEST_PG_URL, '--schema', schema]);
    ok(['--home', pgHome, 'task', 'add', 'already here']);
    const journal = await sql(schema, 'SELECT seq, entry::text FROM journal ORDER BY seq');
    const r = run(['--home', pgHome, 'db', 'import', '--from', source]);
    expect(r.code, show(r)).toBe(4);
    expect(r.stderr).toMatch(/holds a board already: import into an empty schema/);
    expect(await sql(schema, 'SELECT seq, entry::text FROM journal ORDER BY seq')).toEqual(journal);
  });

  it('imports into a PostgreSQL workspace whose schema is empty', async () => {
    const { schema } = await testSchema('dreamos_db');
    const empty = await testSchema('dreamos_db');
    const pgHome = path.join(tmp.dir, 'pg-empty');
    ok(['init', '--dir', pgHome, '--backend', 'postgres', '--store', TEST_PG_URL, '--schema', schema]);
    const file = path.join(pgHome, '.dreamos', 'config.json');
    const config = JSON.parse(fs.readFileSync(file, 'utf8'));
    config.state.schema = empty.schema;
    fs.writeFileSync(file, JSON.stringify(config));
    const again = run(['--home', pgHome, 'db', 'import', '--from', source, '--schema', empty.schema]);
    expect(again.code, show(again)).toBe(2);
    expect(again.stderr).toMatch(/its config\.json says where its state is/);
    const r = ok(['--home', pgHome, 'db', 'import', '--from', path.join(source, '.dreamos')]);
    expect(r.stdout).toMatch(new RegExp(`^imported .* into schema ${empty.schema}: \\d+ tasks, 11 archived`));
    expect(tasksOf(pgHome)).toEqual(tasksOf(source));
  });

  it('leaves no folder behind when an import into a new one is refused', async () => {
    const { schema } = await testSchema('dreamos_db');
    ok([
      'init',
      '--dir',
      path.join(tmp.dir, 'pg-taken'),
      '--backend',
      'postgres',
      '--store',
      TEST_PG_URL,
      '--schema',
      schema,
    ]);
    const target = path.join(tmp.dir, 'pg-new');
    const r = run([
      '--home',
      target,
      'db',
      'import',
      '--from',
      source,
      '--store',
      TEST_PG_URL,
      '--schema',
      schema,
    ]);
    expect(r.code, show(r)).toBe(4);
    expect(fs.existsSync(target)).toBe(false);
  });

  it('refuses to import into a JSON workspace, or where no server is named', () => {
    const jsonHome = path.join(tmp.dir, 'json-target');
    ok(['init', '--dir', jsonHome]);
    const intoJson = run(['--home', jsonHome, 'db', 'import', '--from', source]);
    expect(intoJson.code, show(intoJson)).toBe(2);
    expect(intoJson.stderr).toMatch(/applies to PostgreSQL workspaces only/);
    const nowhere = run(['--home', path.join(tmp.dir, 'nowhere'), 'db', 'import', '--from', source]);
    expect(nowhere.code, show(nowhere)).toBe(2);
    expect(nowhere.stderr).toMatch(/--store/);
    expect(fs.existsSync(path.join(tmp.dir, 'nowhere'))).toBe(false);
    const secret = new URL(TEST_PG_URL);
    secret.password = 'Sesame-db-import';
    const withPassword = run([
      '--home',
      path.join(tmp.dir, 'nowhere'),
      'db',
      'import',
      '--from',
      source,
      '--store',
      secret.toString(),
    ]);
    expect(withPassword.code, show(withPassword)).toBe(2);
    expect(withPassword.stderr).toMatch(/--store holds a password/);
    expect(withPassword.stdout + withPassword.stderr).not.toContain('Sesame-db-import');
    expect(fs.existsSync(path.join(tmp.dir, 'nowhere'))).toBe(false);
  });

  it('refuses to export into a folder that has a workspace, or a journal trimmed by retention', async () => {
    const { schema } = await testSchema('dreamos_db');
    const pgHome = path.join(tmp.dir, 'pg-trimmed');
    ok(['init', '--dir', pgHome, '--backend', 'postgres', '--store', TEST_PG_URL, '--schema', schema]);
    ok(['--home', pgHome, 'task', 'add', 'one']);

    const taken = run(['--home', pgHome, 'db', 'export', '--to', source]);
    expect(taken.code, show(taken)).toBe(4);
    expect(taken.stderr).toMatch(/exists already: export into a new folder/);

    // What retention leaves: the oldest entries gone, the floor recording where the journal now starts.
    await sql(schema, 'DELETE FROM journal WHERE seq = 1; UPDATE settings SET journal_floor = 1');
    const out = path.join(tmp.dir, 'json-trimmed');
    const trimmed = run(['--home', pgHome, 'db', 'export', '--to', out]);
    expect(trimmed.code, show(trimmed)).toBe(4);
    expect(trimmed.stderr).toMatch(/starts at entry 2: the entries before it were removed by retention/);
    expect(fs.existsSync(path.join(out, '.dreamos'))).toBe(false);
  });

  it('exports a board whose archive retention deleted archived tasks, and names them', async () => {
    const { schema } = await testSchema('dreamos_db');
    const pgHome = path.join(tmp.dir, 'pg-pruned');
    ok(['init', '--dir', pgHome, '--backend', 'postgres', '--store', TEST_PG_URL, '--schema', schema]);
    writePolicies(path.join(pgHome, '.dreamos'), { keepCompleted: 1 });
    const ws = await openWorkspace({ home: path.join(pgHome, '.dreamos'), share: false });
    try {
      for (let i = 0; i < 14; i++)
        await ws.cancel((await ws.addTask({ title: `old ${i}` })).id, 'not needed');
    } finally {
      await ws.close();
    }
    const where = { url: TEST_PG_URL, schema };
    const session = new Session(where, 'test', false);
    const archivedIds = async () =>
      ((await sql(schema, 'SELECT id FROM archive ORDER BY id')) as { id: string }[]).map((r) => r.id);
    const all = await archivedIds();
    expect(all.length).toBeGreaterThan(2);
    try {
      // Archive retention by age, two tasks' worth: the journal still records archiving them all.
      const bounds = {
        keepEntries: 1_000,
        keepDays: 0,
        archiveKeepDays: 0,
        batch: 2,
        pauseMs: 1,
        everyMs: 0,
      };
      expect((await retain(session, where, { ...bounds, maxBatches: 1 })).archived).toBe(2);
    } finally {
      await session.close();
    }
    const kept = await archivedIds();
    const pruned = all.filter((id) => !kept.includes(id));
    expect(pruned).toHaveLength(2);

    const out = path.join(tmp.dir, 'json-pruned');
    const exported = run(['--home', pgHome, 'db', 'export', '--to', out, '--json']);
    expect(exported.code, show(exported)).toBe(0);
    expect(exported.json<{ pruned: string[]; counts: { archive: number } }>()).toMatchObject({
      pruned,
      counts: { archive: kept.length },
    });
    const outHome = path.join(out, '.dreamos');
    expect(Object.keys(archivedTasks(outHome)).sort()).toEqual(kept);
    expect(tasksOf(out)).toEqual(tasksOf(pgHome));
    const doctor = ok(['--home', out, 'doctor']);
    expect(doctor.stdout, show(doctor)).toMatch(/^ok: /);

    const text = ok(['--home', pgHome, 'db', 'export', '--to', path.join(tmp.dir, 'json-pruned-2')]);
    expect(text.stdout).toContain(
      '; 2 archived tasks deleted by archive retention before the export are not in it (the journal keeps their history)',
    );
  });
});
