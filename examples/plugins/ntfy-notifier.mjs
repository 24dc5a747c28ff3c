/**
 * An example plugin: notifications through ntfy (https://ntfy.sh), to a phone or a desktop.
 *
 * Copy it to .dreamos/plugins/ntfy-notifier.mjs and set, in the environment of the process that
 * runs the swarm (`dreamos run`, `dreamos serve`, the console):
 *
 *   DREAMOS_NTFY_URL=https://ntfy.sh/your-secret-topic   (or your own server's topic URL)
 *   DREAMOS_NTFY_TOKEN=tk_…                              (optional: an access token)
 *
 * It tells dead letters (tasks failed for good) and raised alerts, one message per burst.
 */
import { definePlugin, RetryLater } from 'dreamos';

const url = process.env.DREAMOS_NTFY_URL;
const token = process.env.DREAMOS_NTFY_TOKEN;

/** One line per thing worth telling in a batch. */
function linesOf(batch) {
  const lines = [];
  for (const event of batch) {
    if (event.type === 'task.failed')
      for (const task of event.tasks ?? [])
        if (task.status === 'failed')
          lines.push(`${task.id} failed: ${task.title} (dreamos task retry ${task.id})`);
    if (event.type === 'alert.raised')
      for (const alert of event.alerts ?? [])
        if (alert.status === 'open') lines.push(`${alert.id}: ${alert.message}`);
  }
  return lines;
}

const ntfy = {
  name: 'ntfy',
  events: ['task.failed', 'alert.raised'],
  async notify(batch, { signal, workspace }) {
    const lines = linesOf(batch);
    if (lines.length === 0) return;
    const shown = lines.slice(0, 20);
    if (lines.length > shown.length)
      shown.push(`… and ${lines.length - shown.length} more (dreamos attention)`);
    const response = await fetch(url, {
      method: 'POST',
      headers: {
        Title: `Dream.OS ${workspace}: ${lines.length} to look at`,
        Priority: 'high',
        Tags: 'warning',
        ...(token ? { Authorization: `Bearer ${token}` } : {}),
      },
      body: shown.join('\n'),
      signal,
    });
    if (response.status === 429) throw new RetryLater('ntfy rate limit', 60_000);
    // Never put the URL in an error: the topic name is the secret of a public ntfy server.
    if (!response.ok) throw new Error(`ntfy answered ${response.status}`);
  },
};

export default definePlugin({
  name: 'ntfy-notifier',
  version: '1.0.0',
  description: 'dead letters and alerts to an ntfy topic',
  notifiers: url ? [ntfy] : [],
});
