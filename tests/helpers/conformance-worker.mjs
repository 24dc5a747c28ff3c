// A worker process for the backend conformance suite (tests/system/state/backend-conformance.test.ts): it
// opens a workspace through the built library (in the backend its config.json names), and writes one
// acknowledgement line per change once the change has returned (appendFileSync, before the next
// one), so a SIGKILL at any instant leaves only acknowledgements of changes the backend made.
//
//   node conformance-worker.mjs '{"home":…,"backend":"json","agent":"agent-3","mode":"drain","acks":…}'
//
// drain: claim and complete until nothing is left to claim, then exit 0.
// churn: add a task, claim one, complete it, for ever (the suite kills it).
import fs from 'node:fs';
import { openWorkspace } from '../../dist/index.js';

const { home, agent, mode, acks } = JSON.parse(process.argv[2] ?? '{}');

function ack(op, task) {
  fs.appendFileSync(acks, `${JSON.stringify({ op, id: task.id, title: task.title, agent })}\n`);
}

const ws = await openWorkspace({ home, actor: agent });
if (mode === 'drain') {
  for (;;) {
    const task = await ws.claim(agent);
    if (!task) break;
    ack('claimed', task);
    ack('done', await ws.complete(task.id, { agent, summary: `done by ${agent}` }));
  }
  await ws.close();
} else {
  for (let n = 1; ; n++) {
    ack('added', await ws.addTask({ title: `${agent} ${process.pid} ${n}`, run: 'true' }));
    const task = await ws.claim(agent);
    if (!task) continue;
    ack('claimed', task);
    ack('done', await ws.complete(task.id, { agent }));
  }
}
