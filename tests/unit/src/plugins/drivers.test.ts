/**
 * Plugin drivers inside the process (src/plugins/drivers.ts, agents/drivers/registry.ts): the
 * registry's rules, the options a plugin's schema checks, and the guard around `accepts` and `run`
 * (a bug switches the plugin off; a failed attempt does not). The whole path through the CLI is in
 * tests/system/cli/plugin-drivers.test.ts.
 */
import fs from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import * as z from 'zod';
import { createDriver, DriverRegistry } from '../../../../agents/drivers/index.js';
import { AgentConfig } from '../../../../src/config.js';
import { PluginHost } from '../../../../src/plugins/host.js';
import type { LoadedPlugin, PluginReport } from '../../../../src/plugins/load.js';
import { type DreamPlugin, defineDriver, type PluginDriver } from '../../../../src/plugins/types.js';
import { describeZodError } from '../../../../state/zod-errors.js';
import { makeContext, makeTask } from '../../../helpers/agents.js';
import { tempDir } from '../../../helpers/workspace.js';

let tmp: ReturnType<typeof tempDir>;
beforeEach(() => {
  tmp = tempDir();
});
afterEach(() => tmp.cleanup());

function report(name: string): PluginReport {
  return {
    name,
    version: '1.0.0',
    from: `.dreamos/plugins/${name}.mjs`,
    origin: 'file',
    state: 'on',
    reason: null,
    notifiers: [],
    sources: [],
    drivers: [],
    onEvent: false,
    notes: [],
  };
}

/** A host over one in-memory plugin with these drivers, recording what it switches off. */
// biome-ignore lint/suspicious/noExplicitAny: drivers of any options
function host(drivers: PluginDriver<any>[]) {
  const plugin: DreamPlugin = { name: 'p', version: '1.0.0', drivers };
  const loaded: LoadedPlugin = { report: report('p'), plugin };
  const off: string[] = [];
  const h = new PluginHost([loaded.report], [loaded], {
    timeoutMs: 200,
    log: () => {},
    onSwitchedOff: (_r, reason) => off.push(reason),
  });
  const registry = new DriverRegistry();
  for (const kind of h.driverKinds()) expect(registry.add(kind)).toBeNull();
  return { registry, off, report: loaded.report };
}

describe('the driver registry', () => {
  it('refuses a built-in kind and a kind already provided', () => {
    const registry = new DriverRegistry();
    const kind = (k: string, from: string) => ({ kind: k, from, create: () => ({}) as never });
    expect(registry.add(kind('shell', 'plugin a'))).toBe('driver kind shell is built in');
    expect(registry.add(kind('mine', 'plugin a'))).toBeNull();
    expect(registry.add(kind('mine', 'plugin b'))).toBe('driver kind mine is already provided by plugin a');
    expect(registry.kinds()).toEqual(['mine']);
  });

  it('says which kinds there are when an agent names one nobody provides', () => {
    const { registry } = host([{ kind: 'echo', run: () => undefined }]);
    expect(() => createDriver({ kind: 'nope' }, { registry })).toThrow(
      'no loaded plugin provides the driver kind nope (built in: sim, shell, command, pty, llm; from plugins: echo): see `dreamos plugin list`',
    );
  });
});

describe("a plugin driver's options", () => {
  it('are checked by its zod schema, and run gets what the schema returns', async () => {
    let got: unknown;
    const { registry } = host([
      defineDriver({
        kind: 'echo',
        options: z.strictObject({ level: z.number().default(1) }),
        run: (_task, { options }) => {
          got = options.level satisfies number;
          return undefined;
        },
      }),
    ]);
    expect(() => createDriver({ kind: 'echo', level: 'high' }, { registry })).toThrow(
      /^its echo driver options are wrong: level: /,
    );
    expect(() => createDriver({ kind: 'echo', other: 1 }, { registry })).toThrow(
      /^its echo driver options are wrong: /,
    );
    const driver = createDriver({ kind: 'echo' }, { registry });
    const { ctx } = makeContext(tmp.dir);
    expect(await driver.start(ctx).done).toEqual({ ok: true });
    expect(got).toBe(1);
  });

  it('are checked by its function, whose error is the reason', () => {
    const { registry } = host([
      {
        kind: 'echo',
        options: (v) => {
          if (!v.url) throw new Error('url: required');
          return v;
        },
        run: () => undefined,
      },
    ]);
    expect(() => createDriver({ kind: 'echo' }, { registry })).toThrow(
      'its echo driver options are wrong: url: required',
    );
    expect(createDriver({ kind: 'echo', url: 'x' }, { registry }).kind).toBe('echo');
  });
});

describe('the guard around a plugin driver', () => {
  it('keeps the plugin on for a failed attempt, and logs what the run said', async () => {
    const { registry, off } = host([
      {
        kind: 'echo',
        run: (task, { log, progress }) => {
          log(`one\ntwo ${task.title}`);
          progress(7);
          return { ok: false, error: 'the service said no' };
        },
      },
    ]);
    const { ctx, rec } = makeContext(tmp.dir);
    fs.mkdirSync(ctx.logPath.replace(/\/[^/]+$/, ''), { recursive: true });
    const outcome = await createDriver({ kind: 'echo' }, { registry }).start(ctx).done;
    expect(outcome).toEqual({ ok: false, errorCode: 'E_FAILED', error: 'the service said no' });
    expect(rec.lines.map((l) => l.line)).toEqual(['one', 'two a test task']);
    expect(rec.progress).toEqual([1]);
    expect(fs.readFileSync(ctx.logPath, 'utf8')).toBe('one\ntwo a test task\n');
    expect(off).toEqual([]);
  });

  it("caps what a run writes to the task's log, saying so once; whoever watches still gets every line", async () => {
    const mb = 'x'.repeat(1024 * 1024);
    const { registry } = host([
      {
        kind: 'echo',
        run: (_task, { log }) => {
          for (let i = 0; i < 7; i++) log(mb);
          return undefined;
        },
      },
    ]);
    const { ctx, rec } = makeContext(tmp.dir);
    fs.mkdirSync(ctx.logPath.replace(/\/[^/]+$/, ''), { recursive: true });
    expect(await createDriver({ kind: 'echo' }, { registry }).start(ctx).done).toEqual({ ok: true });
    expect(rec.lines).toHaveLength(7);
    const lines = fs.readFileSync(ctx.logPath, 'utf8').split('\n');
    expect(lines.filter((l) => l === mb)).toHaveLength(4);
    expect(lines.filter((l) => l.startsWith('[dreamos]'))).toEqual([
      '[dreamos] the rest of the output is not logged',
    ]);
  });

  it('switches the plugin off when run returns what is not a result, and starts nothing more', async () => {
    const { registry, off, report } = host([{ kind: 'echo', run: () => 'done!' as never }]);
    const driver = createDriver({ kind: 'echo' }, { registry });
    const { ctx } = makeContext(tmp.dir);
    const outcome = await driver.start(ctx).done;
    expect(outcome).toMatchObject({ ok: false, errorCode: 'E_DRIVER' });
    expect(outcome.error).toMatch(/^plugin p: driver echo returned what is not a result: /);
    expect(off).toHaveLength(1);
    expect(report.state).toBe('off');
    expect(driver.accepts(makeTask())).toBe(false);
    expect(await driver.start(ctx).done).toEqual({
      ok: false,
      errorCode: 'E_DRIVER',
      error: `plugin p is switched off: ${off[0]}`,
    });
  });

  it('switches the plugin off when accepts throws or answers what is not a boolean', () => {
    const thrower = host([
      {
        kind: 'echo',
        accepts: () => {
          throw new Error('accepts bug');
        },
        run: () => undefined,
      },
    ]);
    expect(createDriver({ kind: 'echo' }, thrower).accepts(makeTask())).toBe(false);
    expect(thrower.off).toEqual(['driver echo accepts threw: accepts bug']);

    const vague = host([{ kind: 'echo', accepts: () => 'yes' as never, run: () => undefined }]);
    expect(createDriver({ kind: 'echo' }, vague).accepts(makeTask())).toBe(false);
    expect(vague.off).toEqual(['driver echo accepts returned string, not true or false']);
  });
});

describe('an agent driver in config.json', () => {
  const config = (driver: unknown) =>
    AgentConfig.safeParse({ id: 'agent-1', name: 'One', role: 'one', driver });

  it("keeps a plugin kind's options as they are", () => {
    const parsed = config({ kind: 'http', url: 'https://x.example', nested: { a: [1] } });
    expect(parsed.success).toBe(true);
    expect(parsed.data?.driver).toEqual({
      kind: 'http',
      url: 'https://x.example',
      nested: { a: [1] },
    });
  });

  it('names the misspelt field of a built-in kind, and refuses a kind that is not a name', () => {
    const typo = config({ kind: 'shell', shel: '/bin/sh' });
    expect(typo.success).toBe(false);
    expect(describeZodError(typo.error!)).toBe('driver: Unrecognized key: "shel"');
    const badKind = config({ kind: 'Not A Kind' });
    expect(badKind.success).toBe(false);
    expect(describeZodError(badKind.error!)).toBe(
      'driver.kind: lower-case letters, digits, ".", "_" and "-", at most 64',
    );
  });
});
