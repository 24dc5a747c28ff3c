/**
 * Whether this orchestrator runs the sweeps made for the whole board (docs/decisions/sweep-leader.md):
 * drift over agents no live orchestrator runs, and the backend's upkeep. Several orchestrators may
 * work one board; the one that leads the role `sweeps` in the state backend runs them, the others
 * only look after their own agents. The role is renewed each heartbeat for a term of a few of them.
 *
 * Modes:
 * - `following`: another holder's term runs, the last renewal failed, or none was asked yet. No
 *   board-wide sweep runs here.
 * - `leading`: the last renewal answered true, and its term, counted on this process's monotonic
 *   clock from the moment it was asked (before the backend set it, so never later than the
 *   backend's end of it), has not run out. A renewal that answers false or fails ends it at once.
 */
import { randomBytes } from 'node:crypto';
import { HOST } from './plans.js';

export const SWEEPS_ROLE = 'sweeps';

/** What the leader needs of the state backend. */
export interface LeaderContext {
  lead(role: string, holder: string, ttlMs: number): Promise<boolean>;
}

export class SweepLeader {
  /** Unique to this orchestrator: a restarted process with the same pid is another holder. */
  readonly holder = `${HOST}:${process.pid}:${randomBytes(4).toString('hex')}`;
  private mode: 'following' | 'leading' = 'following';
  /** The end of the term in `leading`, on performance.now()'s clock. */
  private until = 0;

  constructor(
    private readonly backend: LeaderContext,
    /** The length of a term (ms): a few sweep periods. */
    private readonly ttlMs: () => number,
    /** Called when this orchestrator starts or stops leading. */
    private readonly changed: (leading: boolean) => void,
  ) {}

  /** Whether the board-wide sweeps are this orchestrator's to run now. */
  leads(): boolean {
    return this.mode === 'leading' && performance.now() < this.until;
  }

  /** Claim or renew the role; a failure ends the term here before it is thrown. */
  async renew(): Promise<boolean> {
    const ttl = this.ttlMs();
    const asked = performance.now();
    try {
      const won = await this.backend.lead(SWEEPS_ROLE, this.holder, ttl);
      this.set(won, asked + ttl);
      return won;
    } catch (error) {
      this.set(false, 0);
      throw error;
    }
  }

  /**
   * Give the role up as the orchestrator stops (a term of zero), so that another one leads from its
   * next renewal rather than once the term has run out. Nothing is reported: the stop is.
   */
  async resign(): Promise<void> {
    const held = this.mode === 'leading';
    this.mode = 'following';
    this.until = 0;
    if (held) await this.backend.lead(SWEEPS_ROLE, this.holder, 0);
  }

  private set(leading: boolean, until: number): void {
    const was = this.mode;
    this.mode = leading ? 'leading' : 'following';
    this.until = until;
    if (this.mode !== was) this.changed(leading);
  }
}
