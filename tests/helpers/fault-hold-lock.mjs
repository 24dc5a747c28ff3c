// Takes the journal lock of a workspace through the built library and never lets go: the corruption
// suite SIGKILLs it there, leaving the lock behind as a crashed writer would.
// Writes its pid to SIGNAL_FILE once it holds the lock.
//
// With GO_FILE, it is a writer frozen inside its transaction instead (its event loop blocked, so
// its lock is not refreshed): once GO_FILE exists it records a change, and prints the outcome
// ({ ok } or { error: { code, message } }) on stdout.
//
//   node fault-hold-lock.mjs /path/to/.dreamos SIGNAL_FILE [GO_FILE]
import fs from 'node:fs';
import { openWorkspace } from '../../dist/index.js';

const [home, signal, go] = process.argv.slice(2);
const ws = await openWorkspace({ home });
const cell = new Int32Array(new SharedArrayBuffer(4));
const outcome = await ws
  .apply(() => {
    fs.writeFileSync(signal, String(process.pid));
    if (!go) {
      // Block inside the transaction (the journal lock is held) without burning a core.
      Atomics.wait(cell, 0, 0, 120_000);
      return { change: null, result: undefined };
    }
    while (!fs.existsSync(go)) Atomics.wait(cell, 0, 0, 20);
    return { change: { op: 'frozen-writer', by: 'operator' }, result: undefined };
  })
  .then(
    () => ({ ok: true }),
    (error) => ({ error: { code: error.code, message: error.message } }),
  );
if (go) process.stdout.write(`${JSON.stringify(outcome)}\n`);
await ws.close().catch(() => undefined);
