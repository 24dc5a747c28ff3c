/**
 * The `webhook-lost` alert of the dispatcher, over a history that no longer holds the first entries
 * a subscription had not delivered (as after retention): one alert per subscription, and a write of
 * it that fails is reported while the log line stays and delivering goes on.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { initWorkspace, type Workspace } from '../../../src/index.js';
import { addWebhook, startWebhooks, type WebhookContext } from '../../../src/webhooks/index.js';
import { deliveries } from '../../../src/webhooks/manage.js';
import type { History } from '../../../state/backend.js';
import { waitFor } from '../../helpers/agents.js';
import { type Receiver, startReceiver } from '../../helpers/webhook-receiver.js';
import { tempDir } from '../../helpers/workspace.js';

let tmp: ReturnType<typeof tempDir>;
let ws: Workspace;
let receiver: Receiver;

beforeEach(async () => {
  tmp = tempDir();
  ws = await initWorkspace({ dir: tmp.dir });
  receiver = await startReceiver();
});
afterEach(async () => {
  await receiver.close();
  await ws.close();
  tmp.cleanup();
});

/** The workspace's history without its entries up to `gone`, as retention leaves it. */
function trimmed(inner: History, gone: number): History {
  return {
    forEach: (onEntry, options) =>
      inner.forEach(
        (entry) => {
          if (entry.seq > gone) onEntry(entry);
        },
        {
          ...options,
          ...(options?.heads
            ? {
                heads: {
                  decode: (head) => head.seq > gone && options.heads!.decode(head),
                  onHead: (head) => {
                    if (head.seq > gone) options.heads!.onHead(head);
                  },
                },
              }
            : {}),
        },
      ),
    tail: (limit, options) => inner.tail(limit, options),
    follow: (mark, options) => inner.follow(mark, options),
    watch: (onMaybeChanged, options) => inner.watch(onMaybeChanged, options),
  };
}

/** A subscription to task.created, then five tasks, the first three of which retention deleted. */
async function lostThree(): Promise<{ id: string; from: number; to: number; kept: string[] }> {
  const added = await addWebhook(ws, { url: `${receiver.url}?token=kept-out`, events: ['task.created'] });
  receiver.secret = added.secret!;
  const tasks = [];
  for (const title of ['a', 'b', 'c', 'd', 'e']) tasks.push(await ws.addTask({ title, run: 'true' }));
  const seqs = (await ws.history.tail(100)).entries.filter((e) => e.op === 'add').map((e) => e.seq);
  return {
    id: added.webhook.id,
    from: seqs[0]!,
    to: seqs[2]!,
    kept: seqs.slice(3).map((s) => `msg_${added.webhook.id}_${s}`),
  };
}

describe('webhook-lost alert', () => {
  it('is raised once per subscription, naming its host and the entries lost', async () => {
    const loss = await lostThree();
    const context: WebhookContext = {
      paths: ws.paths,
      history: trimmed(ws.history, loss.to),
      db: ws.db,
      apply: (plan, by) => ws.apply(plan, by),
    };
    const dispatcher = await startWebhooks(context, { scale: 0.001 });
    try {
      await waitFor(() => loss.kept.every((id) => receiver.received.some((m) => m.id === id)));
      await waitFor(() => ws.alerts().some((a) => a.kind === 'webhook-lost'));
    } finally {
      await dispatcher.close();
    }
    const alerts = ws.alerts().filter((a) => a.kind === 'webhook-lost');
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({
      key: `webhook-lost:${loss.id}`,
      status: 'open',
      count: 1,
      evidence: { from: loss.from, to: loss.to, host: new URL(receiver.url).host },
    });
    expect(JSON.stringify(alerts[0])).not.toContain('kept-out');
  });

  it('that cannot be written is reported; the lost line stays and delivering goes on', async () => {
    const loss = await lostThree();
    const errors: string[] = [];
    const context: WebhookContext = {
      paths: ws.paths,
      history: trimmed(ws.history, loss.to),
      db: ws.db,
      apply: async () => {
        throw new Error('the board refuses the write');
      },
    };
    const dispatcher = await startWebhooks(context, {
      scale: 0.001,
      onError: (error) => errors.push((error as Error).message),
    });
    try {
      await waitFor(() => loss.kept.every((id) => receiver.received.some((m) => m.id === id)));
    } finally {
      await dispatcher.close();
    }
    expect(errors).toEqual(['the board refuses the write']);
    const lost = deliveries(ws.paths, loss.id).filter((l) => l.outcome === 'lost');
    expect(lost).toHaveLength(1);
    expect(lost[0]).toMatchObject({ type: 'events-lost', seq: loss.to });
    expect(ws.alerts().filter((a) => a.kind === 'webhook-lost')).toEqual([]);
  });
});
