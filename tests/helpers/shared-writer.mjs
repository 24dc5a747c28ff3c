// One long-lived library process on a workspace, driven line by line (tests/state/writer.test.ts):
// each stdin line is a JSON command, each answer one stdout line (a JSON object).
//
//   node shared-writer.mjs /path/to/.dreamos agent-1
//
// Commands: {"do":"claim","agent":…,"taskId"?}, {"do":"complete","id":…,"agent":…},
// {"do":"fail","id":…,"agent":…,"reason":…}, {"do":"writer"} (role and counts), {"do":"view","id":…}
// (the task as this process sees it, without an explicit refresh), {"do":"close"} (closes, then exits).
// Answers: {"ok":true,"value":…} or {"ok":false,"code":…,"message":…}.
import readline from 'node:readline';
import { openWorkspace } from '../../dist/index.js';

const [home, actor] = process.argv.slice(2);
const ws = await openWorkspace({ home, actor });
const answer = (message) => process.stdout.write(`${JSON.stringify(message)}\n`);
answer({ ok: true, value: 'open', pid: process.pid });

const commands = {
  claim: (c) => ws.claim(c.agent, c.taskId ? { taskId: c.taskId } : {}),
  complete: (c) => ws.complete(c.id, { agent: c.agent, summary: 'done' }),
  fail: (c) => ws.fail(c.id, { agent: c.agent, reason: c.reason }),
  writer: () => ws.writer,
  view: (c) => ws.view.task(c.id) ?? null,
  close: async () => {
    await ws.close();
    return 'closed';
  },
};

// One command at a time, in order, as a caller awaiting each change would.
let queue = Promise.resolve();
for await (const line of readline.createInterface({ input: process.stdin })) {
  const command = JSON.parse(line);
  queue = queue.then(async () => {
    try {
      answer({ ok: true, value: (await commands[command.do](command)) ?? null });
    } catch (error) {
      answer({ ok: false, code: error?.code ?? 'Error', message: String(error?.message ?? error) });
    }
    if (command.do === 'close') process.exit(0);
  });
}
