/**
 * The comparison that guards `dreamos db import`: a copy that does not match its source is rolled back
 * and refused, naming what differs. The copy is changed inside the import's own transaction, after
 * the journal is recorded and before it is compared, as a fault in recording would change it.
 */
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { DreamError } from '../../../state/errors.js';
import { workspacePaths } from '../../../state/paths.js';
import { SCHEMA_VERSION } from '../../../state/pg/migrations.js';
import { importJson } from '../../../state/pg/transfer.js';
import { describePg, TEST_PG_URL, testSchema } from '../../helpers/pg.js';
import { runIn } from '../../helpers/rich-workspace.js';
import { tempDir } from '../../helpers/workspace.js';

const tmp = tempDir('dreamos-pg-transfer-');
const source = workspacePaths(path.join(tmp.dir, '.dreamos'));

async function rows(schema: string, sql: string): Promise<unknown[]> {
  const client = new pg.Client({ connectionString: TEST_PG_URL });
  await client.connect();
  try {
    await client.query(`SET search_path = "${schema}"`);
    return (await client.query(sql)).rows;
  } finally {
    await client.end();
  }
}

/** What import throws, as a DreamError. */
async function refusal(promise: Promise<unknown>): Promise<DreamError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DreamError);
  return error as DreamError;
}

describePg('db import compares the copy with its source', () => {
  beforeAll(() => {
    const run = runIn(tmp.dir);
    run('init');
    run('task', 'add', 'one', '--run', 'true');
    run('task', 'add', 'two', '--run', 'true', '--priority', 'high');
    run('mail', 'send', 'hello', '--to', 'agent-1');
  }, 60_000);
  afterAll(() => tmp.cleanup());

  it('commits a faithful copy', async () => {
    const { url, schema } = await testSchema('dreamos_transfer');
    const result = await importJson(source, { url: TEST_PG_URL, schema });
    expect(result.counts).toMatchObject({ tasks: 2, mail: 1, journal: 4 });
    expect(await rows(schema, 'SELECT id FROM tasks ORDER BY id')).toEqual([
      { id: 'T-00001' },
      { id: 'T-00002' },
    ]);
    expect(url).toContain(schema);
  });

  it('rolls back a copy whose task differs, and names it', async () => {
    const { schema } = await testSchema('dreamos_transfer');
    const error = await refusal(
      importJson(
        source,
        { url: TEST_PG_URL, schema },
        {
          beforeVerify: async (query) => {
            await query(
              `UPDATE tasks SET doc = jsonb_set(doc::jsonb, '{title}', '"tampered"')::json WHERE id = 'T-00002'`,
            );
          },
        },
      ),
    );
    expect(error.code).toBe('E_CORRUPT');
    expect(error.exitCode).toBe(6);
    expect(error.message).toMatch(/does not match .*, so nothing was imported: tasks T-00002 differs$/);
    expect(await rows(schema, 'SELECT count(*)::int AS n FROM journal')).toEqual([{ n: 0 }]);
    expect(await rows(schema, 'SELECT count(*)::int AS n FROM tasks')).toEqual([{ n: 0 }]);
  });

  it('rolls back a copy that lost a row or a journal entry', async () => {
    const { schema } = await testSchema('dreamos_transfer');
    const error = await refusal(
      importJson(
        source,
        { url: TEST_PG_URL, schema },
        {
          beforeVerify: async (query) => {
            await query(`DELETE FROM mail`);
            await query(`DELETE FROM journal WHERE seq = 2`);
          },
        },
      ),
    );
    expect(error.code).toBe('E_CORRUPT');
    expect(error.message).toContain('mail: 1 in');
    expect(error.message).toContain('journal entry: 4 in');
    expect(error.message).toContain('journal entry 2 only in');
    expect(await rows(schema, 'SELECT count(*)::int AS n FROM mail')).toEqual([{ n: 0 }]);
    // The migration stays (it was committed before the copy began); the board does not.
    expect(await rows(schema, 'SELECT max(version) AS v FROM schema_version')).toEqual([
      { v: SCHEMA_VERSION },
    ]);
  });

  it('refuses a source whose journal is damaged', async () => {
    const { schema } = await testSchema('dreamos_transfer');
    const copy = tempDir('dreamos-pg-transfer-damaged-');
    try {
      fs.cpSync(source.home, path.join(copy.dir, '.dreamos'), { recursive: true });
      const damaged = workspacePaths(path.join(copy.dir, '.dreamos'));
      const segment = damaged.journalSegment(1);
      const lines = fs.readFileSync(segment, 'utf8').split('\n');
      lines[1] = lines[1]!.replace('"op":"add"', '"op":"odd"');
      fs.writeFileSync(segment, lines.join('\n'));
      const error = await refusal(importJson(damaged, { url: TEST_PG_URL, schema }));
      expect(error.code).toBe('E_CORRUPT');
      expect(error.message).toMatch(/is damaged \(segment 1 at \d+: checksum mismatch/);
      expect(await rows(schema, "SELECT to_regclass('journal') IS NULL AS none")).toEqual([{ none: true }]);
    } finally {
      copy.cleanup();
    }
  });
});
