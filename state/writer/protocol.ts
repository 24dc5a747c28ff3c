/**
 * The shared writer's wire protocol: one JSON object per line over a Unix socket. A client sends
 * requests; the writer greets, answers each request by id, and says goodbye when it closes. Every
 * line read is validated; a line that is not a message of this protocol ends the connection.
 * See docs/decisions/shared-writer.md.
 */
import type net from 'node:net';
import * as z from 'zod';
import type { Plan, StateView } from '../db.js';
import { DreamError, ERROR_CODES, type ErrorCode, errnoCode } from '../errors.js';
import { AGENT_ID_RE, REQUEST_ID_RE } from '../schemas.js';

/** A change any process may ask the writer to make: planned from JSON arguments, the same on both sides. */
export interface SharedChange<T> {
  plan: (view: StateView, now: Date) => Plan<T>;
  /** Validates what the writer answered (every read is validated). */
  check: (value: unknown) => T;
}

/**
 * A state kept by reading the journal from a server (the PostgreSQL backend): a change the writer
 * makes for another process is in that process's view only once it has read the change's entry. The
 * writer sends the entries the asker lacks with its answer, so that the asker need not read them.
 */
export interface EntryRelay {
  /** The last entry this state has read, and its crc (null: none yet). */
  seen(): { seq: number; crc: string | null };
  /**
   * The lines of the entries after `seen`, up to this state's last, when all are at hand and this
   * state's entry `seen` has the crc `crc` (the asker's state and this one agree so far), else null;
   * each as a JSON string, encoded: an answer's `entries`, made once per line however many askers
   * it goes to (see sendAnswer).
   */
  entriesAfter(seen: number, crc: string | null): Buffer[] | null;
  /** Take entries another process sent (an answer's), checked as any line read from the journal. */
  absorb(lines: readonly string[]): void;
}

/** Turns a request into a change: checks the arguments as the asking process did, or throws. */
export type Resolve = (op: string, args: unknown, actor: string) => SharedChange<unknown>;

/**
 * What this process did as the writer (requests served, batches, requests refused because their
 * asker had settled them already) and as a client (asked, settled through the journal, made itself).
 */
export interface WriterStats {
  served: number;
  batches: number;
  stale: number;
  asked: number;
  recovered: number;
  direct: number;
}

/** A line longer than this is not a message of this protocol (a task with a 200 kB prompt is far smaller). */
const MAX_LINE = 16 * 1024 * 1024;

export const Request = z.strictObject({
  t: z.literal('req'),
  id: z.string().regex(REQUEST_ID_RE),
  op: z.string().max(40),
  args: z.unknown(),
  actor: z.string().regex(AGENT_ID_RE),
  config: z.string().max(64),
  /** The last journal entry the asker has read, when its state is kept by reading a server (EntryRelay). */
  seen: z.number().int().nonnegative().optional(),
  /** That entry's crc: the writer sends the entries after it only if its own entry there has it. */
  seenCrc: z
    .string()
    .regex(/^[0-9a-f]{8}$/)
    .optional(),
});
export type Request = z.infer<typeof Request>;

export const Reply = z.discriminatedUnion('t', [
  z.strictObject({
    t: z.literal('hello'),
    pid: z.number().int().positive(),
    workspace: z.string().max(4096),
  }),
  z.strictObject({
    t: z.literal('ok'),
    id: z.string(),
    value: z.unknown(),
    /** The journal's lines after the asker's `seen`, up to the writer's state, when it had them at hand. */
    entries: z.array(z.string()).optional(),
  }),
  z.strictObject({
    t: z.literal('err'),
    id: z.string(),
    // A code this version does not know (a peer of another version) makes the whole reply invalid:
    // the request is then settled through the journal, as if the writer had vanished.
    error: z.strictObject({ code: z.enum(ERROR_CODES), message: z.string(), details: z.unknown() }),
  }),
  /** Not taken (the writer is closing, or runs another configuration): make the change yourself. */
  z.strictObject({ t: z.literal('direct'), id: z.string() }),
  z.strictObject({ t: z.literal('bye') }),
]);
export type Reply = z.infer<typeof Reply>;

type ErrorJson = { code: ErrorCode; message: string; details: unknown };

/**
 * A refusal as it travels: a DreamError keeps its code; a system error (ENOSPC, EIO: it has an errno
 * code) is E_IO, which the asking side may retry; anything else is a bug, E_INTERNAL, never retried.
 */
export function errorJson(error: unknown): ErrorJson {
  if (error instanceof DreamError)
    return { code: error.code, message: error.message, details: error.details ?? null };
  const message = error instanceof Error ? error.message : String(error);
  return { code: errnoCode(error) === undefined ? 'E_INTERNAL' : 'E_IO', message, details: null };
}

export function errorFrom(json: ErrorJson): DreamError {
  return new DreamError(json.code, json.message, json.details ?? undefined);
}

/** Call `onLine` for each complete line the socket delivers; `onTooLong` when a line passes MAX_LINE. */
export function readLines(socket: net.Socket, onLine: (line: string) => void, onTooLong: () => void): void {
  let buffer = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    let start = buffer.length;
    buffer += chunk;
    let nl = buffer.indexOf('\n', start);
    start = 0;
    while (nl !== -1) {
      const line = buffer.slice(start, nl);
      start = nl + 1;
      if (line.length > 0) onLine(line);
      nl = buffer.indexOf('\n', start);
    }
    buffer = buffer.slice(start);
    if (buffer.length > MAX_LINE) {
      buffer = '';
      onTooLong();
    }
  });
}

/** One line as a message of `schema`, or null when it is not one. */
export function parseLine<S extends z.ZodType>(schema: S, line: string): z.infer<S> | null {
  try {
    const parsed = schema.safeParse(JSON.parse(line));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

export function send(socket: net.Socket, message: Reply | Request): void {
  if (!socket.destroyed && socket.writable) socket.write(`${JSON.stringify(message)}\n`);
}

/**
 * An 'ok' answer with `entries` (EntryRelay.entriesAfter): the same line as `send` would write for
 * `{ t: 'ok', id, value, entries }`, put together from the entries' encoded JSON strings, which a
 * busy writer would otherwise encode again for every asker.
 */
export function sendAnswer(socket: net.Socket, id: string, value: unknown, entries: readonly Buffer[]): void {
  if (socket.destroyed || !socket.writable) return;
  const head = Buffer.from(
    `{"t":"ok","id":${JSON.stringify(id)},"value":${JSON.stringify(value)},"entries":[`,
  );
  const parts: Buffer[] = [head];
  for (const [i, entry] of entries.entries()) {
    if (i > 0) parts.push(COMMA);
    parts.push(entry);
  }
  parts.push(END);
  socket.write(Buffer.concat(parts));
}

const COMMA = Buffer.from(',');
const END = Buffer.from(']}\n');

/** The task a shared change returned (hot changes return a task, or null for nothing to claim). */
export function taskIdOf(result: unknown): string | null {
  return typeof result === 'object' && result !== null && 'id' in result ? String(result.id) : null;
}
