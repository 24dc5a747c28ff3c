/**
 * Small things the CLI said that were not quite true or not quite what was meant (issue 12, item 11):
 * each checked through the real binary.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type Board, board, dreamos, show } from '../../helpers/cli.js';
import { tempDir } from '../../helpers/workspace.js';

vi.setConfig({ testTimeout: 180_000 });

let b: Board;
beforeEach(() => {
  b = board();
});
afterEach(() => b.cleanup());

const ok = (r: ReturnType<Board['run']>) => {
  expect(r.code, show(r)).toBe(0);
  return r;
};

describe('the CLI says what it means', () => {
  it('`dreamos --home DIR` alone does what a bare `dreamos` does (not a terminal: status and hint)', () => {
    b.add('visible from elsewhere', '--run', 'true');
    const elsewhere = tempDir('dreamos-elsewhere-');
    try {
      for (const args of [['--home', b.dir], [`--home=${b.dir}`]]) {
        const r = ok(dreamos(args, { cwd: elsewhere.dir }));
        expect(r.stdout).toMatch(/^workspace .*\.dreamos/);
        expect(r.stdout).toContain('ready 1');
        expect(r.stderr).toMatch(/not a terminal, so this is the status/);
      }
      const json = ok(dreamos(['--home', b.dir, '--json'], { cwd: elsewhere.dir }));
      expect(json.json<{ counts: { ready: number } }>().counts.ready).toBe(1);
    } finally {
      elsewhere.cleanup();
    }
  });

  it('`mail list` without --agent names the agents whose mail is waiting', () => {
    ok(b.run('mail', 'send', '--to', 'agent-3', 'look at the build'));
    ok(b.run('mail', 'send', '--to', 'agent-3', 'and the tests'));
    ok(b.run('mail', 'send', '--to', 'agent-5', 'hello'));
    const r = ok(b.run('mail', 'list'));
    expect(r.stdout).toBe(
      'no messages for operator\nunacknowledged mail for agent-3 (2), agent-5 (1): `dreamos mail list --agent ID`\n',
    );
    const agent = ok(b.run('mail', 'list', '--agent', 'agent-3'));
    expect(agent.stdout).toContain('look at the build');
    expect(agent.stdout).not.toContain('unacknowledged mail for');
    expect(b.json<unknown[]>('mail', 'list')).toEqual([]);
  });

  it('says a change once, with the stage only when the verb does not already say it', () => {
    const t = b.add('x', '--run', 'true');
    ok(b.run('task', 'claim', '--agent', 'agent-1'));
    expect(ok(b.run('task', 'complete', t.id, '--agent', 'agent-1')).stdout).toBe(`${t.id} done\n`);
    const u = b.add('y', '--run', 'true');
    ok(b.run('task', 'claim', '--agent', 'agent-1'));
    expect(ok(b.run('task', 'fail', u.id, '--agent', 'agent-1', '--reason', 'no')).stdout).toBe(
      `${u.id} failed (ready)\n`,
    );
    expect(ok(b.run('task', 'cancel', u.id)).stdout).toBe(`${u.id} cancelled\n`);
  });

  it('counts in words that agree with the number', () => {
    const sent = b.json<{ id: string }[]>('mail', 'send', '--to', 'operator', 'hi');
    expect(ok(b.run('mail', 'ack', sent[0]!.id)).stdout).toBe('1 message marked acknowledged\n');
  });

  it('`stats` does not make a rate per hour out of a few seconds', () => {
    const t = b.add('x', '--run', 'true');
    ok(b.run('task', 'claim', '--agent', 'agent-1'));
    ok(b.run('task', 'complete', t.id, '--agent', 'agent-1'));
    const r = ok(b.run('stats'));
    expect(r.stdout).toMatch(/^throughput {2}1 done in \d+(\.\d)? s; 1 in the last hour$/m);
    expect(r.stdout).not.toMatch(/\/h/);
    expect(r.stdout).toMatch(/^the whole journal \(\d+(\.\d)? s, /);
  });

  it('counts one thing as one: a message, a waiting task, an agent', () => {
    expect(b.run('mail', 'send', '--to', 'operator', 'hello').code).toBe(0);
    const acked = b.run('mail', 'ack', '--all');
    expect(acked.code, show(acked)).toBe(0);
    expect(acked.stdout).toBe('1 message acknowledged\n');

    const broken = b.add('broken', '--run', 'exit 3', '--max-attempts', '1');
    b.add('after', '--run', 'true', '--depends-on', broken.id);
    expect(b.run('run', '--until-idle').code).toBe(7);
    expect(b.run('attention').stdout).toContain('; 1 task waits on it');

    const file = path.join(b.dir, '.dreamos', 'config.json');
    const config = JSON.parse(fs.readFileSync(file, 'utf8'));
    config.agents = config.agents.slice(0, 1);
    fs.writeFileSync(file, JSON.stringify(config, null, 2));
    expect(b.run('status').stdout).toMatch(/^workspace .*\(journal seq \d+, 1 agent\)$/m);
  });
});
