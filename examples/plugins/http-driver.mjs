/**
 * An example plugin: a driver that hands each task to an HTTP service (a build farm, a serverless
 * function, an agent behind an API) and takes its reply as the outcome.
 *
 * Copy it to .dreamos/plugins/http-driver.mjs and give an agent this driver in config.json:
 *
 *   "driver": { "kind": "http", "url": "https://runner.example/run", "tokenEnv": "RUNNER_TOKEN" }
 *
 * Each task is POSTed as JSON, { "task": { "id", "title", "prompt" }, "agent": "agent-1" }, with
 * `Authorization: Bearer $RUNNER_TOKEN` when tokenEnv is set. The service answers
 * { "ok": true, "summary": "…", "log": ["…"] } or { "ok": false, "error": "…" }. A cancel or the
 * task's timeout aborts the request. The service failing, or not answering, fails the attempt;
 * only a bug here would switch the plugin off.
 */
import { definePlugin } from 'dreamos';

const ENV_NAME = /^[A-Z_][A-Z0-9_]*$/;
const MAX_REPLY_BYTES = 1024 * 1024;

/** The agent's options, checked when the orchestrator starts it: a wrong one stops that agent only. */
function options(value) {
  const { url, tokenEnv, ...rest } = value;
  const unknown = Object.keys(rest)[0];
  if (unknown !== undefined) throw new Error(`${unknown}: not an option (url, tokenEnv)`);
  if (typeof url !== 'string' || !/^https?:\/\/[^\s]+$/.test(url))
    throw new Error('url: an http:// or https:// URL');
  if (tokenEnv !== undefined && (typeof tokenEnv !== 'string' || !ENV_NAME.test(tokenEnv)))
    throw new Error('tokenEnv: the name of an environment variable, such as RUNNER_TOKEN');
  return { url, tokenEnv };
}

const text = (value, max) => (typeof value === 'string' ? value.slice(0, max) : undefined);

export default definePlugin({
  name: 'http-driver',
  version: '1.0.0',
  description: 'hands tasks to an HTTP service',
  drivers: [
    {
      kind: 'http',
      description: 'POSTs each task as JSON; the reply { ok, summary?, error?, log? } is its outcome',
      options,
      // The service gets a prompt, not a shell command: a task with `run` is for a shell agent.
      accepts: (task) => !task.run,
      async run(task, { options, signal, agent, log }) {
        const token = options.tokenEnv ? process.env[options.tokenEnv] : undefined;
        if (options.tokenEnv && !token) return { ok: false, error: `${options.tokenEnv} is not set` };
        let response;
        try {
          response = await fetch(options.url, {
            method: 'POST',
            signal,
            redirect: 'error',
            headers: {
              'content-type': 'application/json',
              ...(token ? { authorization: `Bearer ${token}` } : {}),
            },
            body: JSON.stringify({
              task: { id: task.id, title: task.title, prompt: task.prompt },
              agent: agent.id,
            }),
          });
        } catch (error) {
          if (signal.aborted) throw error; // stopped: the run says why
          return {
            ok: false,
            error: `${options.url} could not be reached: ${error.cause?.code ?? error.message}`,
          };
        }
        const body = await response.text();
        if (body.length > MAX_REPLY_BYTES)
          return { ok: false, error: `the reply is over ${MAX_REPLY_BYTES} bytes` };
        if (!response.ok) return { ok: false, error: `${options.url} answered ${response.status}` };
        let reply;
        try {
          reply = JSON.parse(body);
        } catch {
          return { ok: false, error: 'the reply is not JSON' };
        }
        for (const line of Array.isArray(reply.log) ? reply.log.slice(0, 1000) : []) log(String(line));
        if (reply.ok === true)
          return { ok: true, ...(text(reply.summary, 1000) ? { summary: text(reply.summary, 1000) } : {}) };
        return { ok: false, error: text(reply.error, 1000) || 'the service reported a failure' };
      },
    },
  ],
});
