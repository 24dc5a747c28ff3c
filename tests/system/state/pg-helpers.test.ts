/**
 * The PostgreSQL test helpers (tests/helpers/pg.ts): the skip-or-fail decision, the probe, and
 * schemas that are dropped when their suite or test ends, failed or not.
 */
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import {
  describePg,
  type FreshSchema,
  freshSchema,
  notAnsweringLine,
  pgAvailable,
  pgSuiteMode,
  redactUrl,
  suiteSchema,
  TEST_PG_URL,
  testSchema,
  urlWithSchema,
} from '../../helpers/pg.js';

/** Whether a schema of that name exists in the test database. */
async function schemaExists(schema: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: TEST_PG_URL });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema]);
    return rowCount === 1;
  } finally {
    await client.end();
  }
}

describe('a suite that needs PostgreSQL', () => {
  it('runs when the server answers, CI or not', () => {
    expect(pgSuiteMode(true, {})).toBe('run');
    expect(pgSuiteMode(true, { CI: 'true' })).toBe('run');
  });

  it('is skipped without a server, but fails on CI', () => {
    expect(pgSuiteMode(false, {})).toBe('skip');
    expect(pgSuiteMode(false, { CI: '' })).toBe('skip');
    expect(pgSuiteMode(false, { CI: 'false' })).toBe('skip');
    expect(pgSuiteMode(false, { CI: '0' })).toBe('skip');
    expect(pgSuiteMode(false, { CI: 'true' })).toBe('fail');
    expect(pgSuiteMode(false, { CI: '1' })).toBe('fail');
  });

  it('names the server without its password', () => {
    expect(redactUrl('postgres://app:s3cret@db.example:5433/test')).toBe(
      'postgres://app:***@db.example:5433/test',
    );
    const line = notAnsweringLine('postgres://app:s3cret@db.example/test', 'skip');
    expect(line).toContain('PostgreSQL at postgres://app:***@db.example/test did not answer');
    expect(line).toContain('PostgreSQL suites skipped');
    expect(line).not.toContain('s3cret');
  });

  it('finds no server where none listens', async () => {
    // Port 1 on the loopback refuses connections on any ordinary machine.
    expect(await pgAvailable('postgres://postgres@127.0.0.1:1/test', 1000)).toBe(false);
  });
});

describePg('schemas of their own', () => {
  it('finds the test server', async () => {
    expect(await pgAvailable()).toBe(true);
  });

  it('makes a schema that its URL writes into, and drops it with what it holds', async () => {
    const fresh = await freshSchema('helpers');
    try {
      expect(fresh.schema).toMatch(new RegExp(`^helpers_${process.pid}_[a-z0-9]+$`));
      expect(fresh.url).toBe(urlWithSchema(TEST_PG_URL, fresh.schema));
      expect(await schemaExists(fresh.schema)).toBe(true);
      const client = new pg.Client({ connectionString: fresh.url });
      await client.connect();
      try {
        await client.query('CREATE TABLE t (id int)');
        const { rows } = await client.query(
          "SELECT table_schema FROM information_schema.tables WHERE table_name = 't' AND table_schema = $1",
          [fresh.schema],
        );
        expect(rows).toEqual([{ table_schema: fresh.schema }]);
      } finally {
        await client.end();
      }
    } finally {
      await fresh.drop();
    }
    expect(await schemaExists(fresh.schema)).toBe(false);
    await fresh.drop();
  });

  it('gives two schemas of one prefix different names', async () => {
    const [a, b] = await Promise.all([freshSchema('helpers'), freshSchema('helpers')]);
    await Promise.all([a.drop(), b.drop()]);
    expect(a.schema).not.toBe(b.schema);
  });

  let failedTests: FreshSchema | undefined;
  it.fails("drops a test's schema when the test fails", async () => {
    failedTests = await testSchema('helpers');
    expect(await schemaExists(failedTests.schema)).toBe(true);
    throw new Error('this test fails on purpose');
  });
  it('(the failed test left no schema)', async () => {
    expect(failedTests).toBeDefined();
    expect(await schemaExists(failedTests!.schema)).toBe(false);
  });

  let suites: FreshSchema | undefined;
  describe('a suite with a schema', () => {
    const schema = suiteSchema('helpers');
    it('has it in every test', async () => {
      suites = schema();
      expect(await schemaExists(suites.schema)).toBe(true);
    });
    it.fails('keeps it when a test fails', async () => {
      expect(schema()).toBe(suites);
      throw new Error('this test fails on purpose');
    });
    it('still has it after the failure', async () => {
      expect(await schemaExists(schema().schema)).toBe(true);
    });
  });
  it('(the suite dropped its schema when it ended)', async () => {
    expect(suites).toBeDefined();
    expect(await schemaExists(suites!.schema)).toBe(false);
  });
});
