// Chatty agents for the console bench: appends ~N lines/s to each working agent's task log (in
// 50 ms bursts, with colour codes and the odd `::dreamos` progress line), and changes the board
// twice a second (a task added), as a running swarm would. On SIGTERM it prints what it wrote.
import fs from 'node:fs';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [home, perSecond] = process.argv.slice(2);
const root = process.env.DREAMOS_BENCH_ROOT;
const { openWorkspace } = await import(pathToFileURL(join(root, 'dist', 'index.js')).href);
const ws = await openWorkspace({ home });
const files = ws.listTasks({ status: 'working' }).map((t) => ws.paths.log(t.agent, t.id));
for (const f of files) fs.mkdirSync(dirname(f), { recursive: true });

const burst = Math.max(1, Math.round(Number(perSecond) / 20));
let lines = 0;
let n = 0;
const tick = setInterval(() => {
  for (const f of files) {
    let text = '';
    for (let i = 0; i < burst; i++) {
      n += 1;
      text +=
        n % 50 === 0
          ? `::dreamos {"progress":${(n % 100) / 100}}\n`
          : `\u001b[32mstep ${n}\u001b[0m compiling module ${n % 997} of the bench project, all good so far\n`;
    }
    fs.appendFileSync(f, text);
    lines += burst;
  }
}, 50);
let changes = 0;
/** When each change was acknowledged (durable), for the console's live-update latency. */
const commits = [];
const board = setInterval(() => {
  ws.addTask({ title: `live change ${changes + 1}`, hold: true }).then(() => {
    changes += 1;
    commits.push(Date.now());
  });
}, 500);
process.on('SIGTERM', () => {
  clearInterval(tick);
  clearInterval(board);
  process.stdout.write(`${JSON.stringify({ lines, changes, commits })}\n`);
  ws.close().finally(() => process.exit(0));
});
