/**
 * Where webhook subscriptions live: `webhooks/subscriptions.json` in the workspace folder, read and
 * written whole under the lock `webhooks/subscriptions` (the CLI changes it, the dispatcher moves
 * cursors and its outbox), each write atomic and durable. A file that does not parse is never read
 * as empty: readers get a corrupt-state error, and the next writer moves it to quarantine/ first.
 *
 * Each subscription keeps its cursor (the journal sequence number up to which events have been
 * looked at) and its outbox (the deliveries made of them and not yet delivered or given up) in the
 * same record, so one write moves both: a crash leaves either neither or both.
 *
 * Signing secrets are not here: each is a file of its own in `secrets/` (mode 600), which no list
 * or log ever reads out.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { join } from 'node:path';
import * as z from 'zod';
import { acquireLock } from '../../state/lock/index.js';
import type { WorkspacePaths } from '../../state/paths.js';
import { realFolder } from '../../state/safe-files.js';
import { CorruptFileError, quarantineFile, ValidatedJsonFile, writeFileDurable } from '../../state/store.js';
import { DreamError, errnoCode, invalidInput, notFound } from '../errors.js';
import { cut } from '../sanitize.js';
import { secretKey } from './signing.js';

export const WEBHOOK_ID_RE = /^W-[0-9A-Z]{8}$/;
const URL_MAX = 2048;

const Pending = z.object({
  /** The message's `webhook-id`: the same for every attempt. */
  id: z.string().min(1),
  /** The journal entry the event was made of; 0 for a test ping. */
  seq: z.number().int().min(0),
  type: z.string().min(1),
  /** The exact body sent, kept so that every attempt sends the same bytes. */
  body: z.string(),
  /** Attempts made so far. */
  attempts: z.number().int().min(0),
  nextAt: z.string(),
  createdAt: z.string(),
});
export type PendingDelivery = z.infer<typeof Pending>;

const Disabled = z.object({
  at: z.string(),
  /** Who disabled it: the operator, the receiver (410 Gone), or failures that went on too long. */
  by: z.enum(['operator', 'receiver', 'failures']),
  why: z.string(),
});

const Subscription = z.object({
  id: z.string().regex(WEBHOOK_ID_RE),
  url: z.string().max(URL_MAX),
  events: z.array(z.string()),
  createdAt: z.string(),
  disabled: Disabled.nullable(),
  /** Every journal entry up to this sequence number has been looked at for this subscription. */
  cursor: z.number().int().min(0),
  /** Attempts that failed in a row, since the last delivery. */
  failures: z.object({ count: z.number().int().min(1), since: z.string(), last: z.string() }).nullable(),
  deliveredAt: z.string().nullable(),
  pending: z.array(Pending),
});
export type WebhookSubscription = z.infer<typeof Subscription>;

const SubscriptionsFile = z.object({ version: z.literal(1), subscriptions: z.array(Subscription) });
export type Subscriptions = z.infer<typeof SubscriptionsFile>;

/** A receiver's address: http or https, no credentials in it (they would be shown and stored in the clear). */
export function checkUrl(text: string): string {
  const shown = JSON.stringify(cut(text, 80));
  if (text.length > URL_MAX || !URL.canParse(text)) throw invalidInput(`not a URL: ${shown}`);
  const url = new URL(text);
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw invalidInput(`a webhook URL is http or https, not ${JSON.stringify(cut(url.protocol, 20))}`);
  if (url.username || url.password)
    throw invalidInput('a webhook URL may not hold a user or password: the receiver checks the signature');
  if (!url.hostname) throw invalidInput(`a webhook URL names a host: ${shown}`);
  return url.href;
}

export function newSubscriptionId(): string {
  const alphabet = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ';
  return `W-${[...randomBytes(8)].map((b) => alphabet[b % alphabet.length]).join('')}`;
}

export class WebhookStore {
  readonly dir: string;
  readonly file: string;
  readonly log: string;
  private readonly lock: string;

  constructor(
    readonly paths: WorkspacePaths,
    private readonly lockTimeoutMs = 10_000,
  ) {
    this.dir = paths.webhooksDir;
    this.file = join(this.dir, 'subscriptions.json');
    this.log = join(this.dir, 'deliveries.jsonl');
    this.lock = join(this.dir, 'subscriptions');
  }

  /** The subscriptions as last written; none when there is no file yet. */
  read(): Subscriptions {
    try {
      return (
        new ValidatedJsonFile(this.file, SubscriptionsFile).readSync() ?? { version: 1, subscriptions: [] }
      );
    } catch (error) {
      if (error instanceof CorruptFileError)
        throw new DreamError(
          'E_CORRUPT',
          `${error.message}; the next change of the webhooks moves it to quarantine/ and starts a new one`,
        );
      throw error;
    }
  }

  /**
   * Change the subscriptions under their lock: `change` edits what it is given and returns a
   * result; when it throws, nothing is written. A corrupt file is refused; with `quarantine` (the
   * operator's commands) it is moved to quarantine/ first, and the next change starts a new one.
   */
  async update<T>(change: (current: Subscriptions) => T, { quarantine = false } = {}): Promise<T> {
    realFolder(this.paths.home, this.dir);
    const lock = await acquireLock(this.lock, { timeoutMs: this.lockTimeoutMs });
    try {
      const file = new ValidatedJsonFile(this.file, SubscriptionsFile);
      let current: Subscriptions | null;
      try {
        current = file.readSync();
      } catch (error) {
        if (!(error instanceof CorruptFileError)) throw error;
        if (!quarantine) throw new DreamError('E_CORRUPT', error.message);
        const moved = quarantineFile(this.file, this.paths);
        throw new DreamError(
          'E_CORRUPT',
          `${error.message}: moved to ${moved}; run the command again to start with no subscriptions (their secrets stay in ${this.paths.secretsDir})`,
        );
      }
      const next = current ?? { version: 1 as const, subscriptions: [] };
      const result = change(next);
      file.writeSync(next);
      return result;
    } finally {
      await lock.release();
    }
  }

  get(id: string): WebhookSubscription {
    const sub = this.read().subscriptions.find((s) => s.id === id);
    if (!sub) throw notFound(`no webhook ${JSON.stringify(cut(id, 40))} (see \`dreamos webhook list\`)`);
    return sub;
  }

  secretPath(id: string): string {
    if (!WEBHOOK_ID_RE.test(id)) throw invalidInput(`not a webhook id: ${JSON.stringify(cut(id, 40))}`);
    return join(this.paths.secretsDir, `webhook-${id}`);
  }

  /** Keep a subscription's secret in its own file, readable by this user only. */
  writeSecret(id: string, secret: string): void {
    secretKey(secret);
    realFolder(this.paths.home, this.paths.secretsDir);
    writeFileDurable(this.secretPath(id), `${secret.trim()}\n`);
  }

  readSecret(id: string): string {
    let fd: number;
    try {
      fd = fs.openSync(this.secretPath(id), fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
    } catch (error) {
      if (errnoCode(error) === 'ENOENT')
        throw new DreamError(
          'E_CORRUPT',
          `the secret of ${id} is missing: remove the webhook and add it again`,
        );
      throw error;
    }
    try {
      const secret = fs.readFileSync(fd, 'utf8').trim();
      secretKey(secret);
      return secret;
    } finally {
      fs.closeSync(fd);
    }
  }

  removeSecret(id: string): void {
    fs.rmSync(this.secretPath(id), { force: true });
  }
}
