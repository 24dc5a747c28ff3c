// Start bench worker processes, release them together, and gather what they report.
import { fork } from 'node:child_process';

/**
 * Fork one process per config, wait until each has opened its store, then send all of them the same
 * deadline. Resolves with the earliest start, the latest end, every acknowledged task id, and the
 * summed time spent in claim and in complete.
 */
export async function spawnWorkers(script, configs, seconds) {
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
  await Promise.all(
    children.map(
      (child) =>
        new Promise((resolve, reject) => {
          const onMessage = (msg) => {
            if (msg.type !== 'ready') return;
            child.off('message', onMessage);
            resolve();
          };
          child.on('message', onMessage);
          child.once('exit', (code) => reject(new Error(`worker exited with code ${code} before starting`)));
        }),
    ),
  );
  const deadline = Date.now() + seconds * 1000;
  for (const child of children) child.send({ type: 'go', deadline });
  try {
    const all = await Promise.all(results);
    return {
      start: Math.min(...all.map((r) => r.start)),
      end: Math.max(...all.map((r) => r.end)),
      done: all.flatMap((r) => r.done),
      claimMs: all.reduce((sum, r) => sum + r.claimMs, 0),
      completeMs: all.reduce((sum, r) => sum + r.completeMs, 0),
      perProcess: all.map((r) => r.done.length),
    };
  } finally {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  }
}
