/**
 * A task's long text for the pager (`V` in the task and agent views): its prompt, its command, its
 * result's summary and error, and the notes (why) of its history, whole, wrapped to the screen's
 * width, control sequences removed.
 */
import { stripControl } from '../../src/sanitize.js';
import type { Task } from '../../state/schemas.js';

const section = (title: string, text: string | undefined | null): string[] =>
  text?.trim() ? [`── ${title} ──`, ...stripControl(text.replace(/\r\n?/g, '\n')).split('\n'), ''] : [];

export function taskText(task: Task): string[] {
  const result = task.result;
  const outcome = result
    ? `${result.ok ? 'ok' : 'failed'}${result.exitCode != null ? `, exit ${result.exitCode}` : ''}${result.errorCode ? `, ${result.errorCode}` : ''}`
    : '';
  const notes = task.history
    .filter((h) => h.why?.trim())
    .map((h) => `${h.at.slice(0, 19).replace('T', ' ')} ${h.from ?? '∅'} → ${h.to} by ${h.by}: ${h.why}`)
    .join('\n');
  const lines = [
    ...section('Prompt', task.prompt),
    ...section('Run', task.run),
    ...section(`Summary (${outcome})`, result?.summary),
    ...section(`Error (${outcome})`, result?.error),
    ...section('Notes', notes),
  ];
  return lines.length ? lines.slice(0, -1) : [];
}

/** Lines cut to `width` characters, a long line continuing on the next ones. */
export function wrapLines(lines: readonly string[], width: number): string[] {
  const w = Math.max(10, width);
  const out: string[] = [];
  for (const line of lines) {
    const text = line.replace(/\t/g, '  ');
    if (text.length <= w) out.push(text);
    else for (let i = 0; i < text.length; i += w) out.push(text.slice(i, i + w));
  }
  return out;
}
