/**
 * The GitHub deliveries already handled, by their `X-GitHub-Delivery` id, in
 * `.dreamos/github/deliveries.json` (written under the lock `locks/github-deliveries`): a delivery
 * sent again (a redelivery from GitHub's settings page, a proxy's retry) is answered without being
 * looked at twice. Each id is forgotten after the retention period, and the file holds at most
 * MAX_DELIVERIES of them, the oldest going first.
 *
 * It only saves work: the dedupe key of an issue's task (`gh:owner/repo#N`) is what keeps an issue
 * from becoming two tasks. So a damaged file is moved to quarantine/ and started again, and the
 * hook says so in its log.
 */
import { join } from 'node:path';
import * as z from 'zod';
import type { WorkspacePaths } from '../../state/paths.js';
import { CorruptFileError } from '../../state/store.js';
import { LockedJsonFile } from '../locked-file.js';

/** GitHub lets a delivery of the last three days be sent again; a week covers it. */
export const DELIVERY_RETENTION_MS = 7 * 86_400_000;
export const MAX_DELIVERIES = 10_000;

const DeliveriesFile = z.strictObject({
  schemaVersion: z.literal(1),
  /** Delivery id → when it was handled. */
  deliveries: z.record(z.string().max(100), z.iso.datetime({ offset: true })),
});
type DeliveriesFile = z.infer<typeof DeliveriesFile>;

const empty = (): DeliveriesFile => ({ schemaVersion: 1, deliveries: {} });

export class DeliveryStore {
  private readonly file: LockedJsonFile<typeof DeliveriesFile>;

  constructor(
    paths: WorkspacePaths,
    /** Told when a damaged file is set aside. */
    notice: (text: string) => void = () => undefined,
  ) {
    this.file = new LockedJsonFile(paths, {
      path: join(paths.home, 'github', 'deliveries.json'),
      lock: 'github-deliveries',
      schema: DeliveriesFile,
      empty,
      loss: 'deliveries sent again are looked at again, and the dedupe keys of the tasks already made keep them from being made twice',
      onQuarantine: notice,
    });
  }

  /** Whether a delivery was handled already (a damaged file knows none: the next record sets it aside). */
  has(id: string): boolean {
    try {
      return Object.hasOwn(this.file.readSync()?.deliveries ?? {}, id);
    } catch (error) {
      if (error instanceof CorruptFileError) return false;
      throw error;
    }
  }

  /** Remember a delivery as handled, forgetting those past the retention period or the cap. */
  async record(id: string, now = new Date()): Promise<void> {
    await this.file.change((file) => {
      file.deliveries[id] = now.toISOString();
      prune(file, now);
    });
  }
}

function prune(file: DeliveriesFile, now: Date): void {
  const horizon = new Date(now.getTime() - DELIVERY_RETENTION_MS).toISOString();
  const kept = Object.entries(file.deliveries)
    .filter(([, at]) => at >= horizon)
    .sort((a, b) => (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0))
    .slice(-MAX_DELIVERIES);
  file.deliveries = Object.fromEntries(kept);
}
