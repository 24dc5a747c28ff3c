/**
 * Being told without watching: which attention items are new (rung for) and which the operator has
 * not seen yet (counted in the header), and the bytes that tell the terminal — the bell, and a
 * desktop notification as OSC 9 (iTerm2, WezTerm, kitty, Windows Terminal, ConEmu) and OSC 777
 * (`notify;title;body`: urxvt, foot, Ghostty, VTE terminals). Inside tmux the notifications are
 * wrapped for its passthrough (tmux 3.3+ with `allow-passthrough on`). Pure: no ink, no react.
 */
import { oneLine } from '../src/sanitize.js';
import { type AttentionItem, reasonWords } from './data/attention.js';

export interface InboxMarks {
  /** Keys of the items on the inbox at the last look: an item not among them is new. */
  known: ReadonlySet<string>;
  /** New items since the inbox view was last open. */
  unseen: ReadonlySet<string>;
}

/**
 * One look at the inbox. The items there at the first look are known and seen (they were on the
 * screen when the console opened); an item that leaves and comes back is new again. While the
 * operator looks at the inbox view, everything on it is seen.
 */
export function inboxStep(
  before: InboxMarks | null,
  items: readonly AttentionItem[],
  looking: boolean,
): { marks: InboxMarks; fresh: AttentionItem[] } {
  const known = new Set(items.map((i) => i.key));
  if (!before) return { marks: { known, unseen: new Set() }, fresh: [] };
  const fresh = items.filter((i) => !before.known.has(i.key));
  const unseen = new Set<string>();
  if (!looking) {
    for (const key of before.unseen) if (known.has(key)) unseen.add(key);
    for (const item of fresh) unseen.add(item.key);
  }
  return { marks: { known, unseen }, fresh };
}

const BEL = '\u0007';
const ESC = '\u001b';

/**
 * Text for a notification: control sequences and characters removed (a task title cannot end the
 * sequence or start another), one line, no `;` (OSC 777 separates its fields with it), cut short.
 */
export function noticeText(text: string, max = 160): string {
  return oneLine(text.replace(/;/g, ','), max);
}

export interface Notice {
  title: string;
  body: string;
}

/** What to say about the items that just arrived, the most urgent first (the inbox's order). */
export function noticeFor(fresh: readonly AttentionItem[], name: string): Notice {
  const first = fresh[0];
  const title = noticeText(
    `Dream.OS ${name}: ${fresh.length === 1 && first ? reasonWords(first.reason) : `${fresh.length} new items need you`}`,
    80,
  );
  const about = (i: AttentionItem) => `${i.subject} (${reasonWords(i.reason)}): ${i.text}`;
  const body =
    fresh.length === 1 && first
      ? `${first.subject}: ${first.text}`
      : `${fresh.slice(0, 2).map(about).join(' · ')}${fresh.length > 2 ? ` and ${fresh.length - 2} more` : ''}`;
  return { title, body: noticeText(body) };
}

/** tmux passes a sequence on to the outer terminal when wrapped so, its escapes doubled. */
export const tmuxWrap = (sequence: string) => `${ESC}Ptmux;${sequence.replaceAll(ESC, ESC + ESC)}${ESC}\\`;

export interface NoticeOptions {
  bell: boolean;
  desktop: boolean;
  /** Inside tmux ($TMUX set). */
  tmux: boolean;
}

/** The bytes to write: the bell, then OSC 9 and OSC 777, each as the terminal (or tmux) takes it. */
export function noticeBytes(notice: Notice, options: NoticeOptions): string {
  let out = options.bell ? BEL : '';
  if (options.desktop) {
    const title = noticeText(notice.title, 80);
    const body = noticeText(notice.body);
    const osc = [`${ESC}]9;${title}: ${body}${BEL}`, `${ESC}]777;notify;${title};${body}${BEL}`];
    for (const sequence of osc) out += options.tmux ? tmuxWrap(sequence) : sequence;
  }
  return out;
}
