// One bench process on the Dream.OS library: claim then complete until the deadline or an empty board.
// Started by bench/run.mjs with an IPC channel; waits for `go` so that all processes start together.
import { performance } from 'node:perf_hooks';

const { home, agent, distIndex } = JSON.parse(process.argv[2]);
const { openWorkspace } = await import(distIndex);

const now = () => performance.timeOrigin + performance.now();
const ws = await openWorkspace({ home, actor: agent });
ws.refresh();
process.send({ type: 'ready' });

process.once('message', async (msg) => {
  const done = [];
  let claimMs = 0;
  let completeMs = 0;
  const start = now();
  try {
    while (now() < msg.deadline) {
      const t0 = now();
      const task = await ws.claim(agent);
      const t1 = now();
      claimMs += t1 - t0;
      if (!task) break;
      await ws.complete(task.id, { agent });
      completeMs += now() - t1;
      done.push(task.id);
    }
  } catch (error) {
    process.send({ type: 'error', message: String(error?.stack ?? error) });
    process.exit(1);
  }
  const end = now();
  await ws.close();
  process.send({ type: 'result', start, end, done, claimMs, completeMs }, () => process.exit(0));
});
