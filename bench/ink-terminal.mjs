// What the console benches share: a terminal for Ink made of two streams (frames out, keys in), a
// key press timed until the frame that shows its effect, and the quantile of a sample.
import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';

/** A TTY-like output that records frames (`last` is the latest). */
export class Screen extends EventEmitter {
  isTTY = true;
  columns = 160;
  rows = 48;
  last = '';
  write(chunk, encoding, callback) {
    this.last = String(chunk);
    this.emit('frame', this.last);
    (typeof encoding === 'function' ? encoding : callback)?.();
    return true;
  }
}

/** A TTY-like input that takes keys. */
export class Keyboard extends EventEmitter {
  isTTY = true;
  data = null;
  write(data) {
    this.data = data;
    this.emit('readable');
    this.emit('data', data);
  }
  read = () => {
    const data = this.data;
    this.data = null;
    return data;
  };
  setEncoding() {}
  setRawMode() {}
  resume() {}
  pause() {}
  ref() {}
  unref() {}
}

/** Write one key; resolve with the time until a frame matches `expect`, and the CPU time used meanwhile. */
export function press(screen, keyboard, key, expect, timeoutMs = 2000) {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const cpu = process.cpuUsage();
    const timer = setTimeout(() => {
      screen.off('frame', onFrame);
      reject(new Error(`no frame for key ${JSON.stringify(key)} within ${timeoutMs} ms`));
    }, timeoutMs);
    const onFrame = (frame) => {
      if (!expect(frame)) return;
      clearTimeout(timer);
      screen.off('frame', onFrame);
      const used = process.cpuUsage(cpu);
      resolve({ ms: performance.now() - start, cpuMs: (used.user + used.system) / 1000 });
    };
    screen.on('frame', onFrame);
    keyboard.write(key);
  });
}

export const quantile = (xs, q) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? Number.NaN;
};
