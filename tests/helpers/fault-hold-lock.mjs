// Takes the journal lock of a workspace through the built library and never lets go: the corruption
// suite SIGKILLs it there, leaving the lock behind as a crashed writer would.
// Writes its pid to SIGNAL_FILE once it holds the lock.
//
//   node fault-hold-lock.mjs /path/to/.dreamos SIGNAL_FILE
import fs from 'node:fs';
import { openWorkspace } from '../../dist/index.js';

const [home, signal] = process.argv.slice(2);
const ws = await openWorkspace({ home });
await ws.record(() => {
  fs.writeFileSync(signal, String(process.pid));
  // Block inside the transaction (the journal lock is held) without burning a core.
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 120_000);
  return { change: null, result: undefined };
});
