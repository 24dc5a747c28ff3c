// One long-lived library process on a workspace, driven line by line (tests/system/state/writer.test.ts):
// each stdin line is a JSON command, each answer one stdout line (a JSON object).
//
//   node shared-writer.mjs /path/to/.dreamos agent-1      (TEST_LOCK_TIMEOUT_MS=… for a shorter wait)
//
// Commands: {"do":"claim","agent":…,"taskId"?}, {"do":"complete","id":…,"agent":…},
// {"do":"fail","id":…,"agent":…,"reason":…}, {"do":"writer"} (role and counts), {"do":"view","id":…}
// (the task as this process sees it, without an explicit refresh), {"do":"burst","agent":…,"cycles":…,
// "started":FILE} (claim and complete back to back), {"do":"close"} (closes, then exits).
// Answers: {"ok":true,"value":…} or {"ok":false,"code":…,"message":…}.
import fs from 'node:fs';
import readline from 'node:readline';
import { openWorkspace } from '../../dist/index.js';

const [home, actor] = process.argv.slice(2);
const lockTimeoutMs = Number(process.env.TEST_LOCK_TIMEOUT_MS) || undefined;
const ws = await openWorkspace({ home, actor, ...(lockTimeoutMs ? { lockTimeoutMs } : {}) });
const answer = (message) => process.stdout.write(`${JSON.stringify(message)}\n`);
answer({ ok: true, value: 'open', pid: process.pid });

const commands = {
  claim: (c) => ws.claim(c.agent, c.taskId ? { taskId: c.taskId } : {}),
  complete: (c) => ws.complete(c.id, { agent: c.agent, summary: 'done' }),
  fail: (c) => ws.fail(c.id, { agent: c.agent, reason: c.reason }),
  // Its part in the shared writer, once the changes it has taken on are made.
  writer: async () => {
    await ws.db.idle();
    return ws.writer;
  },
  view: (c) => ws.view.task(c.id) ?? null,
  // How it read the journal (the PostgreSQL backend's counts; null on the JSON store).
  reads: () => ws.db.readStats ?? null,
  // Claim and complete back to back, as a busy worker does; writes c.started after the first cycle.
  burst: async (c) => {
    let n = 0;
    for (; n < c.cycles; n++) {
      const task = await ws.claim(c.agent);
      if (!task) break;
      await ws.complete(task.id, { agent: c.agent });
      if (n === 0) fs.writeFileSync(c.started, '');
    }
    return n;
  },
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
