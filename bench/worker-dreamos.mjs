// One bench process on the Dream.OS library: claim then complete until the deadline or an empty board.
// Started by bench/run.mjs with an IPC channel (protocol in bench/workers.mjs): an optional warm-up on
// its own store first, then the measured run, started together with the other processes by `go`.
import { performance } from 'node:perf_hooks';
import { nextMessage } from './workers.mjs';

const { home, warmupHome, agent, distIndex, share } = JSON.parse(process.argv[2]);
const { openWorkspace } = await import(distIndex);

const now = () => performance.timeOrigin + performance.now();

/** Claim then complete until the deadline; `onFirstClaim` runs once the first claim is made. */
async function cycles(ws, deadline, onFirstClaim = () => undefined) {
  const done = [];
  let claimMs = 0;
  let completeMs = 0;
  const start = now();
  while (now() < deadline) {
    const t0 = now();
    const task = await ws.claim(agent);
    const t1 = now();
    claimMs += t1 - t0;
    if (done.length === 0) onFirstClaim();
    if (!task) break;
    await ws.complete(task.id, { agent });
    completeMs += now() - t1;
    done.push(task.id);
  }
  return { start, end: now(), done, claimMs, completeMs };
}

try {
  if (warmupHome) {
    const warm = await openWorkspace({
      home: warmupHome,
      actor: agent,
      share,
    });
    process.send({ type: 'warm-ready' });
    const { deadline } = await nextMessage('warm');
    await cycles(warm, deadline);
    // The warm-up's shared writer leads the measured run (bench/workers.mjs).
    process.send({ type: 'warm-done', lead: warm.writer?.role === 'writer' });
    await nextMessage('warm-close');
    await warm.close();
  }
  const ws = await openWorkspace({ home, actor: agent, share });
  ws.refresh();
  process.send({ type: 'ready' });
  const { deadline, lead } = await nextMessage('go');
  const c0 = process.cpuUsage();
  const result = await cycles(ws, deadline, () => {
    if (lead) process.send({ type: 'started' });
  });
  const c1 = process.cpuUsage(c0);
  const cpuMs = Math.round((c1.user + c1.system) / 1000);
  // How this process took part in the shared writer (state/writer/): its role, requests served or asked.
  const writer = ws.writer && { role: ws.writer.role, ...ws.writer.stats, cpuMs };
  process.send({ type: 'result', ...result, writer });
  await nextMessage('close');
  await ws.close();
  process.exit(0);
} catch (error) {
  process.send({ type: 'error', message: String(error?.stack ?? error) });
  process.exit(1);
}
