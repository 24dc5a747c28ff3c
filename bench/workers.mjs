// Start bench worker processes, release them together, and gather what they report.
//
// The protocol, parent ⇄ each worker over IPC:
//   with a warm-up: worker → `warm-ready` (its warm-up store is open); parent → `warm` {deadline},
//     the same deadline for all; the worker runs the loop on the warm-up store → `warm-done`;
//     parent, once all are done → `warm-close`; the worker closes the warm-up store and goes on;
//   worker → `ready` (the measured store is open); parent → `go` {deadline}, to all at once;
//   worker → `result` {start, end, done, claimMs, completeMs}, or `error` {message};
//   parent, once all have reported → `close`; the worker closes its store and exits.
// Stores are closed only once every worker has finished its loop: a process leaving early (the
// workspace's shared writer, for one) would otherwise change the conditions of the others' last cycles.
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

/** Until every child has sent a message of this type. */
function allSent(children, type) {
  return Promise.all(
    children.map(
      (child) =>
        new Promise((resolve, reject) => {
          const onMessage = (msg) => {
            if (msg.type === 'error') reject(new Error(`worker failed: ${msg.message}`));
            if (msg.type !== type) return;
            child.off('message', onMessage);
            resolve();
          };
          child.on('message', onMessage);
          child.once('exit', (code) => reject(new Error(`worker exited with code ${code} before ${type}`)));
        }),
    ),
  );
}

/**
 * Fork one process per config; when `warmupSeconds` > 0 (each config names a warm-up store), let them
 * all run the loop on it for that long first; wait until each has opened its measured store, then
 * send all of them the same deadline. Resolves with the earliest start, the latest end, every
 * acknowledged task id, and the summed time spent in claim and in complete.
 */
export async function spawnWorkers(script, configs, seconds, warmupSeconds = 0) {
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
    if (warmupSeconds > 0) {
      await allSent(children, 'warm-ready');
      const deadline = Date.now() + warmupSeconds * 1000;
      for (const child of children) child.send({ type: 'warm', deadline });
      await allSent(children, 'warm-done');
      for (const child of children) child.send({ type: 'warm-close' });
    }
    await allSent(children, 'ready');
    const deadline = Date.now() + seconds * 1000;
    for (const child of children) child.send({ type: 'go', deadline });
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
