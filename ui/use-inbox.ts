/**
 * The console's ear on the attention inbox: at each new console view it looks at the inbox (ui/notify.ts),
 * rings and notifies for new items (gathered into one notice per quiet interval), and returns how
 * many items the operator has not seen yet.
 */
import { useEffect, useRef, useState } from 'react';
import type { AttentionItem } from './data/attention.js';
import { type InboxMarks, inboxStep, noticeBytes, noticeFor } from './notify.js';

export interface InboxOptions {
  bell: boolean;
  desktop: boolean;
  quietSeconds: number;
  /** Inside tmux: notifications go through its passthrough. */
  tmux: boolean;
  /** The workspace's name, in the notification's title. */
  name: string;
  /** Where the bytes go: the terminal. */
  write: (bytes: string) => void;
}

export function useInbox(
  items: readonly AttentionItem[],
  looking: boolean,
  options: InboxOptions | null,
): number {
  const marks = useRef<InboxMarks | null>(null);
  const [unseen, setUnseen] = useState(0);
  const pending = useRef<AttentionItem[]>([]);
  const lastRing = useRef(0);
  const timer = useRef<NodeJS.Timeout | null>(null);
  const latest = useRef(options);
  latest.current = options;

  useEffect(() => {
    const step = inboxStep(marks.current, items, looking);
    marks.current = step.marks;
    setUnseen(step.marks.unseen.size);
    const opts = latest.current;
    if (!opts || !step.fresh.length || !(opts.bell || opts.desktop)) return;
    pending.current = [...pending.current, ...step.fresh];
    const ring = () => {
      timer.current = null;
      const now = latest.current;
      // Only what is still on the inbox is told about.
      const still = new Set(marks.current?.known);
      const fresh = pending.current.filter((i) => still.has(i.key));
      pending.current = [];
      if (!now || !fresh.length) return;
      lastRing.current = Date.now();
      now.write(noticeBytes(noticeFor(fresh, now.name), now));
    };
    if (timer.current) return;
    const wait = lastRing.current + opts.quietSeconds * 1000 - Date.now();
    if (wait <= 0) ring();
    else timer.current = setTimeout(ring, wait);
  }, [items, looking]);

  useEffect(
    () => () => {
      if (timer.current) clearTimeout(timer.current);
    },
    [],
  );
  return unseen;
}
