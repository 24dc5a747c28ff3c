/** The progress line of a bulk action under way: its label and the time it has taken, kept current. */
import { useEffect, useState } from 'react';
import { runningText } from './bulk.js';
import type { Running } from './selection.js';

/** How often the time taken is redrawn while a bulk action runs. */
const TICK_MS = 250;

export function useRunning(running: Running | null): string | null {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (!running) return;
    const timer = setInterval(() => setNow(Date.now()), TICK_MS);
    return () => clearInterval(timer);
  }, [running]);
  return running ? runningText(running, Math.max(now, running.startedAt)) : null;
}
