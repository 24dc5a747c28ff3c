// Dispatch figures (docs/performance.md): a task added from another process starts on an idle agent within
// 100 ms (median), and an idle orchestrator uses under 2 % of a core (no busy polling).
// Latency = the journal time of the claim minus the journal time of the add (one clock, two processes).
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';

const TICKS = 100; // clock ticks per second on Linux (getconf CLK_TCK)

function cpuSeconds(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS; // utime + stime
}

export async function benchDispatch({ root, samples = 20, idleSeconds = 10 } = {}) {
  const dir = fs.mkdtempSync(join(os.tmpdir(), 'dreamos-dispatch-'));
  const bin = join(root, 'bin', 'dreamos.js');
  const { openWorkspace } = await import(pathToFileURL(join(root, 'dist', 'index.js')).href);
  spawnSync(process.execPath, [bin, 'init'], { cwd: dir });
  const child = spawn(process.execPath, [bin, 'run'], { cwd: dir, stdio: 'ignore' });
  try {
    await sleep(1500); // started, agents taken
    const cpu0 = cpuSeconds(child.pid);
    await sleep(idleSeconds * 1000);
    const idleCpu = (cpuSeconds(child.pid) - cpu0) / idleSeconds;
    const ws = await openWorkspace({ home: dir });
    const latencies = [];
    for (let i = 0; i < samples; i++) {
      const task = await ws.addTask({ title: `dispatch ${i}`, run: 'true' });
      const added = Date.parse(task.history.at(-1).at);
      let started = null;
      for (let waited = 0; waited < 5000 && started === null; waited += 5) {
        await sleep(5);
        const claim = ws.getTask(task.id).history.find((h) => h.to === 'working');
        if (claim) started = Date.parse(claim.at);
      }
      latencies.push(started === null ? Number.POSITIVE_INFINITY : started - added);
      await sleep(200); // let the agent finish and go idle again
    }
    await ws.close();
    latencies.sort((a, b) => a - b);
    const median = latencies[Math.floor(latencies.length / 2)];
    return {
      addToStartMs: {
        median,
        p90: latencies[Math.floor(latencies.length * 0.9)],
        samples,
        bar: '< 100 (median)',
        pass: median < 100,
      },
      idleOrchestratorCore: {
        value: Math.round(idleCpu * 10000) / 100,
        unit: '% of one core',
        seconds: idleSeconds,
        bar: '< 2',
        pass: idleCpu < 0.02,
      },
    };
  } finally {
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
