/**
 * A fleet on one machine: three hosts, each a network namespace with its own workspace folder and its
 * own agents, run `dreamos run` against one PostgreSQL server of the test's own, on a board of a few
 * thousand shell tasks with chains and fan-ins. Meanwhile: one host's orchestrator is SIGKILLed, the
 * server restarts, another host is cut off for a minute, a third runs with its clock five minutes
 * ahead, and a client holds a transaction open for a minute. Afterwards the journal must show every
 * task done exactly once, every dependency released once, no completion by a run that had lost its
 * lease, and leases judged by the database's clock only.
 *
 * Needs root, `ip` and PostgreSQL 15's initdb; without them it is skipped, with one line on stderr
 * (and fails on CI, like the other PostgreSQL suites: tests/helpers/pg.ts).
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, inject, it, onTestFailed } from 'vitest';
import { Fleet, type FleetHost, fleetUnavailable } from '../../helpers/fleet.js';
import type {} from '../../helpers/pg.js';
import { pgSuiteMode } from '../../helpers/pg-mode.js';

/** CI as the run started: tests/helpers/setup.ts unsets it in test processes (see tests/helpers/pg.ts). */
function ciOfRun(): string | undefined {
  try {
    return inject('dreamosPg')?.ci ?? process.env.CI;
  } catch {
    return process.env.CI;
  }
}

const unavailable = fleetUnavailable();
const mode = pgSuiteMode(unavailable === null, { CI: ciOfRun() });

const CHAINS = 20;
const CHAIN_LENGTH = 15;
const FANS = 50;
const FAN_WIDTH = 8;
const FAIL_ONCE = 30;
const LEASE_SECONDS = 5;
const CUT_SECONDS = 60;
const HOLD_SECONDS = 60;
const SKEW_MS = 5 * 60_000;
/** The whole test's bound: setup, the board, the checks and the teardown. */
const TEST_SECONDS = 290;

interface Put {
  seq: number;
  at: string;
  op: string;
  by: string;
  task: {
    id: string;
    status: string;
    agent: string | null;
    attempts: number;
    dependsOn: string[];
    lease: { owner: string; expiresAt: string } | null;
    history: Array<{ from: string | null; to: string; at: string; by: string; why?: string }>;
    title: string;
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Poll `check` until it is true, at most `seconds` (then fail, saying what was awaited). */
async function until(what: string, seconds: number, check: () => Promise<boolean>): Promise<void> {
  const end = performance.now() + seconds * 1000;
  while (!(await check())) {
    if (performance.now() > end) throw new Error(`waited ${seconds} s for ${what}`);
    await sleep(250);
  }
}

function suite(): void {
  const fleet = new Fleet({
    hosts: 3,
    agentsPerHost: 3,
    schema: 'fleet',
    policies: {
      leaseSeconds: LEASE_SECONDS,
      heartbeatSeconds: 1,
      killGraceSeconds: 1,
      maxStalls: 10,
      keepCompleted: 100_000,
      retry: { baseSeconds: 1, maxSeconds: 2 },
      // The tasks that fail once all fail alike: that rule would pause the agents that ran them.
      drift: { repeatedFailure: { enabled: false } },
    },
  });
  afterAll(async () => {
    const failures = await fleet.teardown();
    expect(failures).toEqual([]);
  });

  it(
    'finishes a board of chains and fan-ins through a kill, a restart, a cut, a skewed clock and a held transaction',
    async () => {
      const timeline: string[] = [];
      const t0 = performance.now();
      const note = (what: string) =>
        timeline.push(`${((performance.now() - t0) / 1000).toFixed(1)} s ${what}`);
      let diagnose: () => Promise<string> = async () => '';
      onTestFailed(async () => {
        process.stderr.write(
          `timeline:\n  ${timeline.join('\n  ')}\n${await diagnose().catch((e) => String(e))}\n`,
        );
        for (const host of fleet.hosts) {
          const errors =
            host.run
              ?.events()
              .filter((e) => e.type !== 'line')
              .slice(-8) ?? [];
          process.stderr.write(
            `host ${host.index} (ended: ${JSON.stringify(host.run?.ended())}): ${errors.map((e) => JSON.stringify(e)).join('\n  ')}\n  stderr: ${host.run?.stderr().slice(-2000)}\n`,
          );
        }
      });
      await fleet.start();
      const [h1, h2, h3] = fleet.hosts as [FleetHost, FleetHost, FleetHost];
      const flags = path.join(fleet.hosts[0]!.dir, '..', 'flags');
      fs.mkdirSync(flags);

      // Hosts: the first makes the schema, the others join it.
      fleet.init(h1);
      fleet.init(h2);
      fleet.init(h3);
      let db = await fleet.client();
      try {
        const inits = await db.query(`SELECT entry->>'op' AS op FROM journal ORDER BY seq`);
        expect(inits.rows.map((r) => r.op)).toEqual(['init', 'join', 'join']);

        // The board: chains (each link waits for the one before), fan-ins (a join waits for ten), and
        // tasks that fail their first attempt and succeed on retry.
        const board: Array<Record<string, unknown>> = [];
        for (let c = 0; c < CHAINS; c++)
          for (let i = 0; i < CHAIN_LENGTH; i++)
            board.push({
              title: `chain ${c} link ${i}`,
              run: 'sleep 0.01',
              ref: `c${c}-${i}`,
              ...(i > 0 ? { dependsOn: [`c${c}-${i - 1}`] } : {}),
            });
        for (let f = 0; f < FANS; f++) {
          for (let i = 0; i < FAN_WIDTH; i++)
            board.push({ title: `fan ${f} leaf ${i}`, run: 'sleep 0.01', ref: `f${f}-${i}` });
          board.push({
            title: `fan ${f} join`,
            run: 'true',
            dependsOn: Array.from({ length: FAN_WIDTH }, (_, i) => `f${f}-${i}`),
          });
        }
        for (let i = 0; i < FAIL_ONCE; i++)
          board.push({
            title: `fails once ${i}`,
            run: `mkdir "${flags}/$DREAMOS_TASK_ID" 2>/dev/null && exit 1 || true`,
            maxAttempts: 3,
          });
        const importFile = path.join(h1.dir, 'board.json');
        fs.writeFileSync(importFile, JSON.stringify(board));
        const imported = JSON.parse(fleet.dreamos(h1, ['--json', 'task', 'import', importFile])) as Array<{
          id: string;
        }>;
        expect(imported).toHaveLength(board.length);
        const ids = new Set(imported.map((t) => t.id));

        diagnose = async () => {
          const c = await fleet.client();
          try {
            const stages = await c.query(
              `SELECT doc->>'status' AS s, count(*)::int AS n FROM tasks GROUP BY 1`,
            );
            const working = await c.query(
              `SELECT id, doc->'lease' AS lease FROM tasks WHERE doc->>'status' = 'working'`,
            );
            const activity = await c.query(
              `SELECT application_name, client_addr, state, wait_event_type, wait_event, left(query, 80) AS query FROM pg_stat_activity WHERE datname = 'fleet'`,
            );
            return JSON.stringify(
              { stages: stages.rows, working: working.rows, activity: activity.rows },
              null,
              1,
            );
          } finally {
            await c.end();
          }
        };
        const doneCount = async () =>
          (await db.query(`SELECT count(*)::int AS n FROM tasks WHERE doc->>'status' = 'done'`)).rows[0]
            .n as number;
        const dbNow = async () => (await db.query('SELECT clock_timestamp() AS now')).rows[0].now as Date;
        const maxSeq = async () =>
          (await db.query('SELECT max(seq)::int AS n FROM journal')).rows[0].n as number;

        // d: the third host's clock runs five minutes ahead.
        const skew = path.join(fleet.hosts[0]!.dir, '..', 'skew.mjs');
        fs.writeFileSync(skew, SKEW_PRELOAD);
        fleet.startRun(h1);
        fleet.startRun(h2);
        fleet.startRun(h3, { NODE_OPTIONS: `--import ${skew}`, FLEET_SKEW_MS: String(SKEW_MS) });

        // e: a client holds a transaction (and its snapshot) open for a minute while the fleet works.
        const holder = await fleet.client();
        await holder.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
        await holder.query('SELECT count(*) FROM tasks');
        const holdFrom = await maxSeq();
        const held = sleep(HOLD_SECONDS * 1000).then(async () => {
          const to = await maxSeq();
          await holder.query('COMMIT');
          await holder.end();
          return to;
        });

        note('hosts started');
        await until('the fleet to finish 100 tasks', 120, async () => (await doneCount()) >= 100);

        // a: SIGKILL of the first host's orchestrator while its agents hold tasks.
        await until('a task held by the first host', 30, async () => {
          const { rows } = await db.query(
            `SELECT count(*)::int AS n FROM tasks WHERE doc->>'status' = 'working' AND doc->'lease'->>'owner' = ANY($1)`,
            [h1.agents],
          );
          return rows[0].n > 0;
        });
        note(`${await doneCount()} done; killing host 1`);
        await fleet.kill(h1);
        const killedAt = await dbNow();
        const orphaned = (
          await db.query(
            `SELECT id, doc->'lease' AS lease FROM tasks WHERE doc->>'status' = 'working' AND doc->'lease'->>'owner' = ANY($1)`,
            [h1.agents],
          )
        ).rows as Array<{ id: string; lease: { owner: string; expiresAt: string } }>;
        // Its tasks are taken by the others once their leases run out (or their agents are seen stalled).
        await until("the other hosts to take the killed host's tasks", 60, async () => {
          const { rows } = await db.query(
            `SELECT count(*)::int AS n FROM tasks WHERE id = ANY($1) AND doc->>'status' = 'working' AND doc->'lease'->>'owner' = ANY($2)`,
            [orphaned.map((o) => o.id), h1.agents],
          );
          return rows[0].n === 0;
        });
        // A late completion by the killed run is refused: the task is no longer its agent's.
        const late = orphaned[0];
        if (late) {
          let refused = false;
          try {
            fleet.dreamos(h1, ['task', 'complete', late.id, '--agent', late.lease.owner]);
          } catch {
            refused = true;
          }
          expect(refused, `a late completion of ${late.id} by ${late.lease.owner} was accepted`).toBe(true);
        }
        fleet.startRun(h1);
        note(`host 1 restarted; waiting for the held transaction to end`);
        // e: claims went on while the transaction was held.
        const holdTo = await held;
        const claimsWhileHeld = await db.query(
          `SELECT count(*)::int AS n FROM journal WHERE seq > $1 AND seq <= $2 AND entry->>'op' = 'claim'`,
          [holdFrom, holdTo],
        );
        expect(claimsWhileHeld.rows[0].n).toBeGreaterThan(0);

        // c: a fast restart of the server; everyone reconnects and goes on.
        const beforeRestart = await maxSeq();
        note(`${await doneCount()} done; restarting the server`);
        fleet.restartServer();
        await db.end().catch(() => undefined);
        db = await fleet.client();
        // The board may be nearly done by now: give each host a task of its own, so that each has
        // something to finish after the restart.
        for (const h of fleet.hosts) {
          const added = JSON.parse(
            fleet.dreamos(h, [
              '--json',
              'task',
              'add',
              `after the restart on ${h.namespace}`,
              '--role',
              h.agents[0]!,
              '--run',
              'true',
            ]),
          ) as { id: string };
          ids.add(added.id);
        }
        await until('every host to write after the restart', 120, async () => {
          const { rows } = await db.query(
            `SELECT DISTINCT t->'task'->>'agent' AS agent FROM journal, json_array_elements(entry->'tasks') t
              WHERE seq > $1 AND t->'task'->>'status' = 'done'`,
            [beforeRestart],
          );
          const by = new Set(rows.map((r) => r.agent as string));
          return fleet.hosts.every((h) => h.agents.some((a) => by.has(a)));
        });

        note(`${await doneCount()} done; every host wrote after the restart`);
        // b: the second host cut off for a minute while one of its agents runs a long task.
        const long = JSON.parse(
          fleet.dreamos(h2, [
            '--json',
            'task',
            'add',
            'long run on the host that will be cut off',
            '--role',
            h2.agents[0]!,
            '--priority',
            'critical',
            '--run',
            `echo start >> "${flags}/long"; sleep 20; echo end >> "${flags}/long"`,
          ]),
        ) as { id: string };
        ids.add(long.id);
        await until('the long task to run on the second host', 60, async () => {
          const { rows } = await db.query(`SELECT doc->>'status' AS s FROM tasks WHERE id = $1`, [long.id]);
          return rows[0]?.s === 'working';
        });
        note(`${await doneCount()} done; cutting host 2`);
        fleet.cut(h2);
        const cutAt = await dbNow();
        await sleep(CUT_SECONDS * 1000);
        fleet.heal(h2);
        note(`${await doneCount()} done; host 2 back`);

        await until(
          'the board to finish',
          Math.max(10, TEST_SECONDS - 20 - (performance.now() - t0) / 1000),
          async () => {
            const { rows } = await db.query(
              `SELECT count(*)::int AS n FROM tasks WHERE doc->>'status' <> 'done'`,
            );
            return rows[0].n === 0;
          },
        );
        note('board finished');
        for (const host of fleet.hosts) await fleet.stop(host);

        // ---------------------------------------------------------------- the journal
        const { rows } = await db.query<{ seq: number; line: string }>(
          'SELECT seq::int AS seq, entry::text AS line FROM journal ORDER BY seq',
        );
        expect(rows.map((r) => r.seq)).toEqual(rows.map((_, i) => i + 1));
        const puts: Put[] = [];
        let latest = 0;
        for (const { line } of rows) {
          const entry = JSON.parse(line);
          // Every entry is stamped with the database's clock, whatever the host's clock says: never
          // before an entry recorded ahead of it but for changes recorded side by side, each planned
          // at most the plan clock's slack (100 ms) behind the database's.
          const at = Date.parse(entry.at);
          expect(
            at >= latest - 100,
            `entry ${entry.seq} at ${entry.at}, ${latest - at} ms before one ahead of it`,
          ).toBe(true);
          latest = Math.max(latest, at);
          for (const { task } of entry.tasks ?? [])
            puts.push({ seq: entry.seq, at: entry.at, op: entry.op, by: entry.by, task });
        }
        const byTask = new Map<string, Put[]>();
        for (const put of puts) byTask.set(put.task.id, [...(byTask.get(put.task.id) ?? []), put]);

        const problems: string[] = [];
        const doneSeq = new Map<string, number>();
        for (const id of ids) {
          const list = byTask.get(id) ?? [];
          const last = list[list.length - 1];
          if (last?.task.status !== 'done') problems.push(`${id} ends ${last?.task.status ?? 'nowhere'}`);
          let prev = 'none';
          let owner: string | null = null;
          const finishedAttempts = new Set<number>();
          for (const put of list) {
            const { status } = put.task;
            if (status !== prev) {
              if (status === 'done') {
                if (doneSeq.has(id))
                  problems.push(`${id} completed twice (seq ${doneSeq.get(id)}, ${put.seq})`);
                doneSeq.set(id, put.seq);
                if (put.task.agent !== owner)
                  problems.push(
                    `${id} completed by ${put.task.agent} while ${owner} held it (seq ${put.seq})`,
                  );
              }
              if (prev === 'working' && (status === 'done' || put.op === 'fail')) {
                if (finishedAttempts.has(put.task.attempts))
                  problems.push(`${id} attempt ${put.task.attempts} finished twice (seq ${put.seq})`);
                finishedAttempts.add(put.task.attempts);
              }
              if (prev === 'working' && status === 'ready' && put.op !== 'fail') {
                // A lease taken back: never before it ran out by the database's clock.
                const expired = put.task.history[put.task.history.length - 1];
                const lease = list.filter((p) => p.seq < put.seq && p.task.lease).pop()?.task.lease;
                if (expired?.why?.includes('expired') && lease && put.at < lease.expiresAt)
                  problems.push(
                    `${id} lease taken back at ${put.at}, before it ran out at ${lease.expiresAt}`,
                  );
              }
            }
            if (status === 'working') owner = put.task.lease?.owner ?? null;
            prev = status;
          }
        }
        // Every dependency released once, and only after all its dependencies were done.
        for (const id of ids) {
          const list = byTask.get(id) ?? [];
          const deps = list[0]?.task.dependsOn ?? [];
          if (deps.length === 0) continue;
          const released = list.filter(
            (p, i) => i > 0 && list[i - 1]!.task.status === 'backlog' && p.task.status === 'ready',
          );
          if (released.length !== 1) problems.push(`${id} released ${released.length} times`);
          for (const dep of deps)
            if (released[0] && (doneSeq.get(dep) ?? Number.POSITIVE_INFINITY) > released[0].seq)
              problems.push(`${id} released at seq ${released[0].seq} before ${dep} was done`);
        }
        // The long task's first run lost its lease while cut off: it must not have run to its end.
        const longLines = fs.readFileSync(path.join(flags, 'long'), 'utf8').trim().split('\n');
        const ends = longLines.filter((l) => l === 'end').length;
        if (ends !== 1) problems.push(`the long task ran to its end ${ends} times (${longLines.join(',')})`);
        // Every host did work, the skewed one included.
        for (const host of fleet.hosts) {
          const mine = [...doneSeq.keys()].filter((id) => {
            const list = byTask.get(id)!;
            return host.agents.includes(list[list.length - 1]!.task.agent ?? '');
          });
          if (mine.length === 0) problems.push(`host ${host.index} completed nothing`);
        }
        expect(problems).toEqual([]);
        void killedAt;
        void cutAt;
      } finally {
        await db.end().catch(() => undefined);
      }
    },
    TEST_SECONDS * 1000,
  );
}

/** Shifts Date.now and new Date() by FLEET_SKEW_MS in the process that imports it. */
const SKEW_PRELOAD = `
const skew = Number(process.env.FLEET_SKEW_MS || 0);
const RealDate = Date;
class SkewedDate extends RealDate {
  constructor(...args) {
    if (args.length === 0) super(RealDate.now() + skew);
    else super(...args);
  }
  static now() {
    return RealDate.now() + skew;
  }
}
globalThis.Date = SkewedDate;
`;

if (mode === 'run') describe('a fleet of three hosts on one PostgreSQL server', suite);
else if (mode === 'skip') {
  process.stderr.write(`pg-fleet: skipped: ${unavailable}\n`);
  describe.skip('a fleet of three hosts on one PostgreSQL server', suite);
} else
  describe('a fleet of three hosts on one PostgreSQL server', () => {
    it('needs root, ip and initdb', () => {
      throw new Error(`pg-fleet cannot run on CI: ${unavailable}`);
    });
  });
