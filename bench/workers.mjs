// Start bench worker processes, release them together, and gather what they report.
//
// The protocol, parent ⇄ each worker over IPC:
//   with a warm-up: worker → `warm-ready` (its warm-up store is open); parent → `warm` {deadline},
//     the same deadline for all; the worker runs the loop on the warm-up store → `warm-done`;
//     parent, once all are done → `warm-close`; the worker closes the warm-up store and goes on;
//   worker → `ready` (the measured store is open); parent → `go` {deadline}, to all at once, or,
//     with `lead`, first to one worker (the one whose warm-done said `lead: true`, else the first),
//     which answers `started` once its first claim is made, then to the others with the same deadline;
//   worker → `result` {start, end, done, claimMs, completeMs}, or `error` {message};
//   parent, once all have reported → `close`; the worker closes its store and exits.
// Stores are closed only once every worker has finished its loop: a process leaving early (the
// workspace's shared writer, for one) would otherwise change the conditions of the others' last cycles.
// `lead` is for Dream.OS: the process that will be the workspace's shared writer is the first to make a
// change (that elects it), so the one that was the writer during the warm-up stays the writer, with the
// writer's code compiled, as in a long-running orchestrator. Otherwise a process that was a client
// becomes the writer when the measurement starts, and the figure is that of a writer failover.
// The others start a few milliseconds later, against the same deadline: that can only lower the rate.
import { fork } from 'node:child_process';

/** In a worker: the next message of this type from the parent. */
export function nextMessage(type) {
  return new Promise((resolve) => {
    const onMessage = (msg) => {
      if (msg?.type !== type) return;
      process.off('message', onMessage);
      resolve(msg);
    };
    process.on('message', onMessage);
  });
}

/** Until this child has sent a message of one of these types. */
function sent(child, types) {
  return new Promise((resolve, reject) => {
    const onMessage = (msg) => {
      if (msg.type === 'error') reject(new Error(`worker failed: ${msg.message}`));
      if (!types.includes(msg.type)) return;
      child.off('message', onMessage);
      resolve(msg);
    };
    child.on('message', onMessage);
    child.once('exit', (code) => reject(new Error(`worker exited with code ${code} before ${types[0]}`)));
  });
}

/** Until every child has sent a message of this type, with the messages. */
function allSent(children, type) {
  return Promise.all(children.map((child) => sent(child, [type])));
}

/**
 * Fork one process per config; when `warmupSeconds` > 0 (each config names a warm-up store), let them
 * all run the loop on it for that long first; wait until each has opened its measured store, then
 * send all of them the same deadline. Resolves with the earliest start, the latest end, every
 * acknowledged task id, and the summed time spent in claim and in complete.
 */
export async function spawnWorkers(script, configs, seconds, { warmupSeconds = 0, lead = false } = {}) {
  const children = configs.map((config) =>
    fork(script, [JSON.stringify(config)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }),
  );
  const results = children.map(
    (child) =>
      new Promise((resolve, reject) => {
        child.on('message', (msg) => {
          if (msg.type === 'result') resolve(msg);
          if (msg.type === 'error') reject(new Error(`worker failed: ${msg.message}`));
        });
        child.on('exit', (code) => {
          if (code !== 0) reject(new Error(`worker exited with code ${code}`));
        });
      }),
  );
  // A worker that fails before its result rejects both waits: the first one awaited reports it.
  for (const result of results) result.catch(() => undefined);
  try {
    let first = 0;
    if (warmupSeconds > 0) {
      await allSent(children, 'warm-ready');
      const deadline = Date.now() + warmupSeconds * 1000;
      for (const child of children) child.send({ type: 'warm', deadline });
      const done = await allSent(children, 'warm-done');
      first = Math.max(
        0,
        done.findIndex((msg) => msg.lead),
      );
      for (const child of children) child.send({ type: 'warm-close' });
    }
    await allSent(children, 'ready');
    const deadline = Date.now() + seconds * 1000;
    const rest = children.filter((_, i) => !lead || i !== first);
    if (lead) {
      const started = sent(children[first], ['started', 'result']);
      children[first].send({ type: 'go', deadline, lead: true });
      await started;
    }
    for (const child of rest) child.send({ type: 'go', deadline });
    const all = await Promise.all(results);
    const exited = children.map((child) => new Promise((resolve) => child.once('exit', resolve)));
    for (const child of children) child.send({ type: 'close' });
    await Promise.all(exited);
    return {
      start: Math.min(...all.map((r) => r.start)),
      end: Math.max(...all.map((r) => r.end)),
      done: all.flatMap((r) => r.done),
      claimMs: all.reduce((sum, r) => sum + r.claimMs, 0),
      completeMs: all.reduce((sum, r) => sum + r.completeMs, 0),
      perProcess: all.map((r) => r.done.length),
      ...(all.some((r) => r.writer) ? { writer: all.map((r) => r.writer ?? null) } : {}),
    };
  } finally {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  }
}
