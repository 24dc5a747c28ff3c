// Seeds a workspace for the corruption suite (tests/system/state/corruption.test.ts) through the built
// library: tasks in every store (backlog, ready, working, and done/failed/cancelled in completed).
// Prints the tasks as JSON: [{ id, status }].
//
//   node fault-seed.mjs /path/to/.dreamos
import { openWorkspace } from '../../dist/index.js';

const ws = await openWorkspace({ home: process.argv[2] });
// Leases that outlive any test run: the suite must not depend on how long it takes.
ws.config.policies.leaseSeconds = 7 * 86_400;
const add = (title, extra = {}) => ws.addTask({ title, run: 'true', ...extra });

const first = await add('held in the backlog', { hold: true });
await add('waits for its dependency', { dependsOn: [first.id] });
await add('another held one', { hold: true, priority: 'low' });
for (const p of ['critical', 'high', 'normal', 'low']) await add(`ready ${p}`, { priority: p });
for (const agent of ['agent-2', 'agent-3', 'agent-5']) {
  const t = await add(`worked on by ${agent}`, { priority: 'critical' });
  await ws.claim(agent, { taskId: t.id });
}
for (const agent of ['agent-6', 'agent-8']) {
  const t = await add(`finished by ${agent}`, { priority: 'critical' });
  await ws.claim(agent, { taskId: t.id });
  await ws.complete(t.id, { agent, summary: 'done' });
}
const doomed = await add('fails for good', { priority: 'critical', maxAttempts: 1 });
await ws.claim('agent-4', { taskId: doomed.id });
await ws.fail(doomed.id, { agent: 'agent-4', reason: 'exit 1' });
const dropped = await add('cancelled by the operator');
await ws.cancel(dropped.id, 'not needed');

const tasks = ws.listTasks().map((t) => ({ id: t.id, status: t.status }));
await ws.close();
process.stdout.write(`${JSON.stringify(tasks)}\n`);
