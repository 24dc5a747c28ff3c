/** `dreamos webhook add|list|test|deliveries|redeliver|enable|disable|remove|run`: signed outbound webhooks. */
import type { Command } from 'commander';
import { ExitCode } from '../errors.js';
import { emit, plural, say, table } from '../output.js';
import { oneLine } from '../sanitize.js';
import type { DeliveryRecord, SendReport, WebhookSummary } from '../webhooks/index.js';
import { positiveInt, readWorkspace, withWorkspace } from './common.js';

/** The webhooks' engine (store, deliveries, dispatcher): loaded by these commands only, not at every start. */
const webhooks = () => import('../webhooks/index.js');

const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

const words = (list: string | undefined) =>
  (list ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

function describeState(w: WebhookSummary): string {
  if (w.disabled) return `disabled (${w.disabled.by}): ${oneLine(w.disabled.why, 80)}`;
  if (w.failures) return `failing: ${plural(w.failures.count, 'attempt')} since ${w.failures.since}`;
  return 'enabled';
}

const sent = (r: SendReport) =>
  `${r.delivery} attempt ${r.attempt} to ${oneLine(r.url, 80)}: ${r.ok ? 'delivered' : 'failed'}, ${r.status !== undefined ? `HTTP ${r.status}` : oneLine(r.error ?? 'no answer', 100)} (${r.durationMs} ms)`;

const line = (r: DeliveryRecord) =>
  `${r.at}  ${r.delivery}  #${r.attempt} ${r.outcome}${r.status !== undefined ? ` HTTP ${r.status}` : ''}${r.error ? ` ${oneLine(r.error, 60)}` : ''}${r.nextAttemptAt ? `, next ${r.nextAttemptAt}` : ''}${r.manual ? ' (by hand)' : ''}`;

export function registerWebhook(program: Command): void {
  const webhook = program
    .command('webhook')
    .description(
      'signed outbound webhooks: add, list, test, deliveries, redeliver, enable, disable, remove, run',
    );

  webhook
    .command('add')
    .description('send the events to a URL, signed (Standard Webhooks); prints the new secret once')
    .argument('<url>', 'the receiver (http or https)')
    .option('--events <list>', 'event types or kinds, comma separated (task.done,alert); default: all')
    .option('--secret-file <file>', 'sign with this whsec_ secret instead of a new one')
    .action(async (url: string, o, command: Command) => {
      await readWorkspace(command, async (ws, options) => {
        const { addWebhook, readSecretFile } = await webhooks();
        const secret = o.secretFile !== undefined ? readSecretFile(String(o.secretFile)) : undefined;
        const added = await addWebhook(ws, {
          url,
          events: words(o.events),
          ...(secret !== undefined ? { secret } : {}),
        });
        emit(options, added, () =>
          added.secret ? `${added.webhook.id} ${added.secret}` : `${added.webhook.id}`,
        );
        if (!options.json)
          say(
            `added ${added.webhook.id}: ${added.webhook.events.join(',')} to ${oneLine(added.webhook.url, 100)}${added.secret ? '; its secret is shown this once: give it to the receiver' : ''}; deliveries run in \`dreamos webhook run\` (or the server)`,
          );
      });
    });

  webhook
    .command('list')
    .description('the subscriptions (never their secrets)')
    .action(async (_o, command: Command) => {
      await readWorkspace(command, async (ws, options) => {
        const hooks = (await webhooks()).listWebhooks(ws.paths);
        emit(options, hooks, () =>
          hooks.length === 0
            ? 'no webhooks'
            : table([
                ['ID', 'EVENTS', 'PENDING', 'URL', 'STATE'],
                ...hooks.map((w) => [
                  w.id,
                  oneLine(w.events.join(','), 30),
                  String(w.pending),
                  oneLine(w.url, 60),
                  describeState(w),
                ]),
              ]),
        );
      });
    });

  webhook
    .command('test')
    .description(
      `send a signed webhook.test ping now and report the answer (exit ${ExitCode.error} unless 2xx)`,
    )
    .argument('<id>', 'the webhook (W-…)')
    .action(async (id: string, _o, command: Command) => {
      await readWorkspace(command, async (ws, options) => {
        const report = await (await webhooks()).testWebhook(ws.paths, id);
        emit(options, report, () => sent(report));
        if (!report.ok) process.exitCode = ExitCode.error;
      });
    });

  webhook
    .command('deliveries')
    .description('the delivery log: one line per attempt, oldest first')
    .argument('[id]', 'only this webhook (W-…)')
    .option('--limit <n>', 'only the last n attempts', positiveInt('--limit'), 50)
    .action(async (id: string | undefined, o, command: Command) => {
      await readWorkspace(command, async (ws, options) => {
        const records = (await webhooks()).deliveries(ws.paths, id).slice(-o.limit);
        emit(options, records, () => (records.length === 0 ? 'no deliveries' : records.map(line).join('\n')));
      });
    });

  webhook
    .command('redeliver')
    .description(
      `send a logged delivery again now, with the same webhook-id (exit ${ExitCode.error} unless 2xx)`,
    )
    .argument('<delivery>', 'the delivery (msg_…, from `webhook deliveries`)')
    .action(async (delivery: string, _o, command: Command) => {
      await readWorkspace(command, async (ws, options) => {
        const report = await (await webhooks()).redeliver(ws, delivery);
        emit(options, report, () => sent(report));
        if (!report.ok) process.exitCode = ExitCode.error;
      });
    });

  webhook
    .command('enable')
    .description('deliver again: what waits is retried and what was missed is sent, unless --from-now')
    .argument('<id>', 'the webhook (W-…)')
    .option('--from-now', 'drop what waits and start at the next event')
    .action(async (id: string, o, command: Command) => {
      await readWorkspace(command, async (ws, options) => {
        const hook = await (await webhooks()).enableWebhook(ws, id, { fromNow: Boolean(o.fromNow) });
        emit(
          options,
          hook,
          () => `${hook.id} enabled (${plural(hook.pending, 'delivery waits', 'deliveries wait')})`,
        );
      });
    });

  webhook
    .command('disable')
    .description('stop delivering; events are kept for `webhook enable`')
    .argument('<id>', 'the webhook (W-…)')
    .option('--why <text>', 'recorded with it')
    .action(async (id: string, o, command: Command) => {
      await readWorkspace(command, async (ws, options) => {
        const hook = await (await webhooks()).disableWebhook(ws.paths, id, o.why);
        emit(options, hook, () => `${hook.id} disabled`);
      });
    });

  webhook
    .command('remove')
    .description('delete a subscription, its secret and what waits for it (the log stays)')
    .argument('<id>', 'the webhook (W-…)')
    .action(async (id: string, _o, command: Command) => {
      await readWorkspace(command, async (ws, options) => {
        const hook = await (await webhooks()).removeWebhook(ws.paths, id);
        emit(options, hook, () => `${hook.id} removed`);
      });
    });

  webhook
    .command('run')
    .description(
      'deliver in the foreground until stopped (SIGINT/SIGTERM); one process delivers per workspace',
    )
    .option('--quiet', 'print nothing but errors')
    .action(async (o, command: Command) => {
      await withWorkspace(command, async (ws, options) => {
        let done: () => void = () => undefined;
        let stopping = false;
        const stopped = new Promise<void>((resolve) => {
          done = resolve;
        });
        const { startWebhooks, webhookOptionsFromEnv } = await webhooks();
        const dispatcher = await startWebhooks(ws, {
          ...webhookOptionsFromEnv(),
          onOutcome: (_outcome, record) => {
            if (options.json) process.stdout.write(`${JSON.stringify({ kind: 'attempt', ...record })}\n`);
            else if (!o.quiet) say(line(record));
          },
          onLeading: (leading) => {
            if (stopping) return; // giving the role up on the way out is not news
            if (options.json) process.stdout.write(`${JSON.stringify({ kind: 'leading', leading })}\n`);
            else if (!o.quiet)
              say(leading ? 'delivering webhooks' : 'another process delivers the webhooks: waiting');
          },
          onError: (error) =>
            say(`webhooks: ${oneLine(error instanceof Error ? error.message : String(error), 200)}`),
        });
        if (dispatcher.status().mode === 'following' && !options.json && !o.quiet)
          say('another process delivers the webhooks: waiting');
        for (const signal of STOP_SIGNALS) process.once(signal, done);
        await stopped;
        for (const signal of STOP_SIGNALS) process.off(signal, done);
        stopping = true;
        await dispatcher.close();
        if (!options.json && !o.quiet) say('stopped');
      });
    });
}
