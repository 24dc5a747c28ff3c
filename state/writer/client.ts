/**
 * The shared writer seen from a process that asks it for changes: a connection greeted by the
 * writer of this workspace, requests sent and answered by id, and, when no answer comes, the
 * request settled through the journal (docs/decisions/shared-writer.md, "Crash safety").
 */
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import type { Change, Transact } from '../db.js';
import { DreamError } from '../errors.js';
import type { JournalEntry } from '../schemas.js';
import {
  type EntryRelay,
  errorFrom,
  parseLine,
  Reply,
  type Request,
  readLines,
  type SharedChange,
  send,
  taskIdOf,
  type WriterStats,
} from './protocol.js';
import type { RequestLog } from './request-log.js';

/** How long a connecting process waits for the writer's greeting (ms). */
const HELLO_MS = 2000;

/** What a request waiting for its answer learns: the answer, or that there will be none. */
type Outcomes = Extract<Reply, { id: string }> | { t: 'lost'; bye: boolean } | { t: 'timeout' };

/** This process's connection to the writer. */
export class Connection {
  readonly waiting = new Map<string, (outcome: Outcomes) => void>();
  /** The writer said goodbye: whatever it has not answered, it never read. */
  bye = false;
  lost = false;

  constructor(readonly socket: net.Socket) {}

  /** Everything still waiting learns that the writer is gone. */
  drop(): void {
    if (this.lost) return;
    this.lost = true;
    this.socket.destroy();
    for (const settle of this.waiting.values()) settle({ t: 'lost', bye: this.bye });
    this.waiting.clear();
  }
}

/** A connection greeted by the writer of `workspace`, or null (nobody there, or no greeting in time). */
export function tryConnect(address: string, workspace: string): Promise<Connection | null> {
  return new Promise((resolve) => {
    const socket = net.connect(address);
    const connection = new Connection(socket);
    let greeted = false;
    const fail = () => {
      connection.drop();
      if (!greeted) resolve(null);
    };
    const timer = setTimeout(fail, HELLO_MS);
    socket.once('error', fail);
    socket.on('close', fail);
    readLines(
      socket,
      (line) => {
        const reply = parseLine(Reply, line);
        if (!reply || (reply.t === 'hello') === greeted) return fail();
        if (reply.t === 'hello') {
          clearTimeout(timer);
          if (reply.workspace !== workspace) return fail();
          greeted = true;
          // An idle connection does not keep the process alive; one with a request waiting does.
          socket.unref();
          resolve(connection);
        } else if (reply.t === 'bye') {
          connection.bye = true;
          connection.drop();
        } else {
          const settle = connection.waiting.get(reply.id);
          connection.waiting.delete(reply.id);
          settle?.(reply);
        }
      },
      fail,
    );
  });
}

/** What asking uses of the shared writer it belongs to. */
export interface ClientContext {
  readonly log: RequestLog;
  /** Digest of this process's configuration: the writer runs requests only with the same one. */
  readonly config: string;
  /** How long to wait for an answer before settling the request through the journal (ms). */
  readonly timeoutMs: number;
  readonly stats: WriterStats;
  readonly relay: EntryRelay | undefined;
}

export class Client {
  private readonly instance = randomBytes(4).toString('hex');
  private count = 0;

  constructor(private readonly context: ClientContext) {}

  /** Ask the writer for a change, in this process's turn (`transact` makes one inside it). */
  async ask<T>(
    connection: Connection,
    request: { op: string; args: unknown; actor: string },
    local: SharedChange<T>,
    transact: Transact,
  ): Promise<T> {
    const { log, stats, relay } = this.context;
    this.count += 1;
    const id = `${process.pid}-${this.instance}-${this.count}`;
    stats.asked += 1;
    const seen = relay?.seen();
    // From before the request is sent: a read by this process meanwhile may catch up past its entry.
    log.awaitRequest(id, seen?.seq);
    try {
      const reply = await this.exchange(connection, {
        t: 'req',
        id,
        ...request,
        config: this.context.config,
        ...(seen ? { seen: seen.seq, ...(seen.crc === null ? {} : { seenCrc: seen.crc }) } : {}),
      });
      switch (reply.t) {
        case 'ok': {
          let value: T;
          try {
            value = local.check(reply.value);
          } catch (error) {
            throw new DreamError(
              'E_CORRUPT',
              `the workspace's writer answered ${request.op} with something invalid (request ${id}): ${(error as Error).message.slice(0, 300)}`,
            );
          }
          // The change is made: what came with it only spares this process a read of the journal.
          if (reply.entries) relay?.absorb(reply.entries);
          return value;
        }
        case 'err':
          throw errorFrom(reply.error);
        case 'direct':
          // Not taken: a writer of another configuration, or one closing. It will not make it.
          connection.drop();
          stats.direct += 1;
          return transact(local.plan);
        case 'lost':
          if (reply.bye) {
            stats.direct += 1;
            return transact(local.plan);
          }
          break;
        case 'timeout':
          connection.drop();
          break;
      }
      stats.recovered += 1;
      return await this.settleThroughJournal(id, request.actor, local, transact).catch((error) => {
        throw unknownOutcome(id, error);
      });
    } finally {
      log.forgetRequest(id);
    }
  }

  private exchange(connection: Connection, request: Request): Promise<Outcomes> {
    return new Promise<Outcomes>((settle) => {
      const timer = setTimeout(() => {
        connection.waiting.delete(request.id);
        settle({ t: 'timeout' });
      }, this.context.timeoutMs);
      connection.socket.ref();
      connection.waiting.set(request.id, (outcome) => {
        clearTimeout(timer);
        if (connection.waiting.size === 0) connection.socket.unref();
        settle(outcome);
      });
      send(connection.socket, request);
      if (connection.lost) {
        connection.waiting.delete(request.id);
        clearTimeout(timer);
        settle({ t: 'lost', bye: connection.bye });
      }
    });
  }

  /**
   * No answer: holding the journal lock, look for the request's entry. Made: return what it
   * returned (made durable first: a writer killed before its flush leaves the entry in the page
   * cache only). Not made: make the change now, recorded under the request's id, so that a writer
   * still holding the request refuses it (it plans under the same lock, after reading the journal).
   */
  private async settleThroughJournal<T>(
    id: string,
    actor: string,
    local: SharedChange<T>,
    transact: Transact,
  ): Promise<T> {
    const { log } = this.context;
    let failure: { error: unknown } | null = null;
    const result = await transact((view, now) => {
      const entry = log.requestEntry(id);
      if (entry) {
        log.syncJournal();
        return { change: null, result: local.check(resultOf(entry)) };
      }
      const fence: Change = { op: 'settle-request', by: actor, req: { id, task: null } };
      try {
        const planned = local.plan(view, now);
        const change = planned.change ?? fence;
        change.req = { id, task: taskIdOf(planned.result) };
        return { change, result: planned.result };
      } catch (error) {
        failure = { error };
        return { change: fence, result: null as T };
      }
    });
    if (failure) throw (failure as { error: unknown }).error;
    return result;
  }
}

/** The journal lock could not be had to settle a request: say that its outcome is not known. */
function unknownOutcome(id: string, error: unknown): unknown {
  if (!(error instanceof DreamError) || error.code !== 'E_LOCK_TIMEOUT') return error;
  return new DreamError(
    'E_LOCK_TIMEOUT',
    `the workspace's writer did not answer, and the journal lock could not be taken to settle the change (${error.message}); whether it was made is not known: look for request ${id} in \`dreamos log\``,
  );
}

function resultOf(entry: JournalEntry): unknown {
  const id = entry.req?.task ?? null;
  return id === null ? null : (entry.tasks?.find((t) => t.task.id === id)?.task ?? null);
}
