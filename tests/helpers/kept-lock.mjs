// Keeps the journal lock between transactions, as a busy process does, then does one thing with it
// kept. Used by tests/system/state/kept-lock.test.ts.
//
//   node kept-lock.mjs /path/to/.dreamos SIGNAL_FILE block|exit|kill|burst [STOP_FILE]
//
// It adds tasks back to back until, right after a transaction, the lock directory is still there
// (kept), writes SIGNAL_FILE ({ pid, added }) and then:
//   block  blocks its main thread for 60 s (synchronous work: its event loop never turns)
//   exit   calls process.exit(0)
//   kill   SIGKILLs itself
//   burst  goes on adding tasks until STOP_FILE exists, then closes and prints how many it added
import fs from 'node:fs';
import { openWorkspace } from '../../dist/index.js';

const [home, signal, action, stop] = process.argv.slice(2);
const lockDir = `${home}/locks/journal.lock`;
const ws = await openWorkspace({ home });
let added = 0;
let kept = false;
while (!kept && added < 5000) {
  await ws.addTask({ title: `burst ${added}`, run: 'true' });
  added += 1;
  kept = fs.existsSync(lockDir);
}
if (!kept) {
  console.error('the lock was never kept');
  process.exit(3);
}
// Written whole, then renamed: the test reads the file as soon as it exists.
const tell = () => {
  fs.writeFileSync(`${signal}.tmp`, JSON.stringify({ pid: process.pid, added }));
  fs.renameSync(`${signal}.tmp`, signal);
};
if (action === 'block') {
  tell();
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60_000);
} else if (action === 'exit') {
  tell();
  process.exit(0);
} else if (action === 'kill') {
  tell();
  process.kill(process.pid, 'SIGKILL');
} else if (action === 'burst') {
  tell();
  while (!fs.existsSync(stop)) {
    await ws.addTask({ title: `burst ${added}`, run: 'true' });
    added += 1;
  }
  await ws.close();
  process.stdout.write(String(added));
}
