/** The lead of the sweeps as an orchestrator keeps it: its modes, against a backend's answers. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type LeaderContext, SWEEPS_ROLE, SweepLeader } from '../../../../src/orchestrator/sweep-leader.js';

const TTL = 3000;

/** A backend that answers what it is told to, and records what it was asked. */
function backend(answers: Array<boolean | Error>) {
  const asked: Array<{ role: string; holder: string; ttlMs: number }> = [];
  const context: LeaderContext = {
    async lead(role, holder, ttlMs) {
      asked.push({ role, holder, ttlMs });
      const answer = answers.shift() ?? false;
      if (answer instanceof Error) throw answer;
      return answer;
    },
  };
  return { context, asked };
}

function leader(answers: Array<boolean | Error>) {
  const b = backend(answers);
  const changes: boolean[] = [];
  const l = new SweepLeader(
    b.context,
    () => TTL,
    (leading) => changes.push(leading),
  );
  return { l, asked: b.asked, changes };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('SweepLeader', () => {
  it('leads while renewals answer true, and stops at the first false', async () => {
    const { l, asked, changes } = leader([true, true, false, true]);
    expect(l.leads()).toBe(false);
    expect(await l.renew()).toBe(true);
    expect(l.leads()).toBe(true);
    expect(await l.renew()).toBe(true);
    expect(await l.renew()).toBe(false);
    expect(l.leads()).toBe(false);
    expect(await l.renew()).toBe(true);
    expect(changes).toEqual([true, false, true]);
    expect(asked.every((a) => a.role === SWEEPS_ROLE && a.holder === l.holder && a.ttlMs === TTL)).toBe(true);
  });

  it('stops leading when a renewal fails, and says why', async () => {
    const { l, changes } = leader([true, new Error('connection lost')]);
    await l.renew();
    await expect(l.renew()).rejects.toThrow('connection lost');
    expect(l.leads()).toBe(false);
    expect(changes).toEqual([true, false]);
  });

  it('stops leading once its term has run out without a renewal', async () => {
    vi.useFakeTimers({ toFake: ['performance'] });
    const { l } = leader([true]);
    await l.renew();
    vi.advanceTimersByTime(TTL - 1);
    expect(l.leads()).toBe(true);
    vi.advanceTimersByTime(1);
    expect(l.leads()).toBe(false);
  });

  it('gives the role up with a term of 0 only when it holds it', async () => {
    const idle = leader([]);
    await idle.l.resign();
    expect(idle.asked).toEqual([]);
    const { l, asked, changes } = leader([true, true]);
    await l.renew();
    await l.resign();
    expect(l.leads()).toBe(false);
    expect(asked.at(-1)).toEqual({ role: SWEEPS_ROLE, holder: l.holder, ttlMs: 0 });
    expect(changes).toEqual([true]);
  });

  it('has a holder of its own in each orchestrator', () => {
    expect(leader([]).l.holder).not.toBe(leader([]).l.holder);
  });
});
