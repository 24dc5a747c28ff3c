/**
 * `StateBackend.lead`: one holder of a role at a time, for every backend, across processes; and for
 * PostgreSQL, terms set and judged by the database's clock only (docs/decisions/sweep-leader.md).
 * Processes use the built library: build first.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { initWorkspace, openWorkspace, type Workspace } from '../../../src/workspace.js';
import { BACKENDS } from '../../helpers/backends.js';
import { describePg, type FreshSchema, freshSchema, TEST_PG_URL } from '../../helpers/pg.js';
import { ROOT, tempDir } from '../../helpers/workspace.js';

const LONG = 60_000;

/** Processes that each ask once, at the same time, to lead `role` of the workspace at `home`. */
async function leadFromProcesses(home: string, count: number): Promise<boolean[]> {
  const script = `
    const { openWorkspace } = await import(${JSON.stringify(path.join(ROOT, 'dist', 'index.js'))});
    const ws = await openWorkspace({ home: ${JSON.stringify(home)}, share: false });
    const won = await ws.db.lead('race', 'holder-' + process.pid, ${LONG});
    await ws.close();
    process.stdout.write(String(won));`;
  const runs = Array.from(
    { length: count },
    () =>
      new Promise<boolean>((resolve, reject) => {
        const child = spawn(process.execPath, ['--input-type=module', '-e', script]);
        let out = '';
        let err = '';
        child.stdout.on('data', (d) => {
          out += d;
        });
        child.stderr.on('data', (d) => {
          err += d;
        });
        child.on('close', (code) =>
          code === 0 ? resolve(out === 'true') : reject(new Error(`exit ${code}: ${err}`)),
        );
      }),
  );
  return Promise.all(runs);
}

for (const backend of BACKENDS) {
  const suite = backend.needs === 'postgres' ? describePg : describe;
  suite(`lead (${backend.name})`, () => {
    let tmp: ReturnType<typeof tempDir>;
    let home: string;
    const open: Workspace[] = [];
    const ws = async () => {
      const opened = await backend.open(home);
      open.push(opened);
      return opened.db;
    };

    beforeEach(async () => {
      tmp = tempDir('dreamos-lead-');
      home = await backend.init(tmp.dir);
    });
    afterEach(async () => {
      for (const w of open.splice(0)) await w.close();
      await backend.cleanup?.();
      tmp.cleanup();
    });

    it('gives a role to one holder at a time; a term of 0 gives it up', async () => {
      const [a, b] = [await ws(), await ws()];
      expect(await a.lead('sweeps', 'a', LONG)).toBe(true);
      expect(await b.lead('sweeps', 'b', LONG)).toBe(false);
      expect(await a.lead('sweeps', 'a', LONG)).toBe(true);
      expect(await b.lead('sweeps', 'b', LONG)).toBe(false);
      expect(await b.lead('other', 'b', LONG)).toBe(true);
      expect(await a.lead('sweeps', 'a', 0)).toBe(true);
      await vi.waitFor(async () => expect(await b.lead('sweeps', 'b', LONG)).toBe(true));
      expect(await a.lead('sweeps', 'a', LONG)).toBe(false);
    });

    it('lets exactly one of several processes that ask at once lead', async () => {
      const won = await leadFromProcesses(home, 6);
      expect(won.filter(Boolean)).toHaveLength(1);
    }, 60_000);
  });
}

describePg('lead (postgres): the database clock judges the term', () => {
  let tmp: ReturnType<typeof tempDir>;
  let schema: FreshSchema;
  let sql: pg.Client;
  const open: Workspace[] = [];
  const backend = async () => {
    const opened = await openWorkspace({ home: path.join(tmp.dir, '.dreamos'), share: false });
    open.push(opened);
    return opened.db;
  };
  const row = async () =>
    (
      await sql.query<{ holder: string; expires: Date; left: number }>(
        `SELECT holder, expires_at AS expires,
                EXTRACT(EPOCH FROM expires_at - clock_timestamp()) * 1000 AS left
           FROM "${schema.schema}".leaders WHERE role = 'sweeps'`,
      )
    ).rows[0]!;

  beforeEach(async () => {
    tmp = tempDir('dreamos-lead-clock-');
    schema = await freshSchema('dreamos_lead');
    const ws = await initWorkspace({
      dir: tmp.dir,
      backend: 'postgres',
      config: { state: { url: TEST_PG_URL, schema: schema.schema } },
    });
    await ws.close();
    sql = new pg.Client({ connectionString: TEST_PG_URL });
    await sql.connect();
  });
  afterEach(async () => {
    vi.useRealTimers();
    for (const w of open.splice(0)) await w.close();
    await sql.end();
    await schema.drop();
    tmp.cleanup();
  });

  it('sets the term from the database clock, and a holder whose own clock is far ahead cannot steal early', async () => {
    const [a, b] = [await backend(), await backend()];
    // a's clock is a day behind when it leads: the term is still the database's now + ttl.
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() - 24 * 3600_000);
    expect(await a.lead('sweeps', 'a', LONG)).toBe(true);
    const term = await row();
    expect(term.holder).toBe('a');
    expect(Number(term.left)).toBeGreaterThan(0);
    expect(Number(term.left)).toBeLessThanOrEqual(LONG);
    // b's clock is a day ahead: by it, a's term ran out long ago, but the database says otherwise.
    vi.setSystemTime(Date.now() + 2 * 24 * 3600_000);
    expect(await b.lead('sweeps', 'b', LONG)).toBe(false);
    expect((await row()).holder).toBe('a');
  });

  it('gives the role of a holder that stops renewing to another only once its term has run out', async () => {
    const [a, b] = [await backend(), await backend()];
    const ttl = 300;
    expect(await a.lead('sweeps', 'a', ttl)).toBe(true);
    const ended = (await row()).expires;
    await vi.waitFor(async () => expect(await b.lead('sweeps', 'b', ttl)).toBe(true), {
      timeout: 30_000,
      interval: 20,
    });
    const taken = await row();
    expect(taken.holder).toBe('b');
    // b's term began (by the database's clock) after a's had ended.
    expect(taken.expires.getTime() - ttl).toBeGreaterThanOrEqual(ended.getTime());
    expect(await a.lead('sweeps', 'a', ttl)).toBe(false);
  });
});
