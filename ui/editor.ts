/**
 * Long text in the operator's own editor, as `git commit` does it: the text goes into a temporary
 * file (mode 600, in a folder of its own), the console hands the terminal over (ui/use-handover.ts:
 * no drawing, no raw mode, the main screen), `$VISUAL` or `$EDITOR` runs on the file through
 * `sh -c` (so `code --wait` works), and the console takes the terminal back and draws it all again.
 * An editor that exits non-zero, dies of a signal or leaves the file empty changes nothing.
 * Not blocking: the agents this console runs go on (heartbeats, leases) while the editor is open.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** How the console gives its terminal to another program and takes it back. */
export interface Handover {
  /** Take the terminal from the console; called again, it stops reading again if a read began. */
  suspend(): void;
  resume(): void;
}

export type EditOutcome = { saved: true; text: string } | { saved: false; why: string };

/** The editor the operator chose: `$VISUAL`, else `$EDITOR`; null when neither is set. */
export function editorFrom(env: NodeJS.ProcessEnv = process.env): string | null {
  return env.VISUAL?.trim() || env.EDITOR?.trim() || null;
}

let running = 0;
/** An editor has the terminal now: ctrl-c belongs to it, not to the console (as git does). */
export const editorRunning = () => running > 0;

function exitOf(
  editor: string,
  file: string,
): Promise<{ code: number | null; signal: string | null; error?: Error }> {
  return new Promise((resolve) => {
    const child = spawn('/bin/sh', ['-c', `${editor} "$@"`, editor, file], { stdio: 'inherit' });
    child.once('error', (error) => resolve({ code: null, signal: null, error }));
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
}

/**
 * Edit `initial` in `editor`; `name` names the file (`prompt`, `message`, `note`), which editors
 * use to pick a mode. Trailing blank lines and spaces are dropped, as editors add them.
 */
export async function editInEditor(
  initial: string,
  options: { editor: string; name: string; handover: Handover },
): Promise<EditOutcome> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dreamos-edit-'));
  const file = path.join(dir, `${options.name.replace(/[^a-z0-9-]/gi, '-')}.md`);
  try {
    fs.writeFileSync(file, initial ? `${initial}\n` : '', { mode: 0o600, flag: 'wx' });
    let exit: Awaited<ReturnType<typeof exitOf>>;
    running += 1;
    try {
      // At once (keys typed from now on wait in the terminal for the editor), and again once the
      // read of the key that asked for the editor is done: that read starts reading the terminal again.
      options.handover.suspend();
      await new Promise((resolve) => setImmediate(resolve));
      options.handover.suspend();
      exit = await exitOf(options.editor, file);
    } finally {
      running -= 1;
      options.handover.resume();
    }
    if (exit.error) return { saved: false, why: `the editor could not start (${exit.error.message})` };
    if (exit.signal) return { saved: false, why: `the editor was stopped (${exit.signal}); nothing changed` };
    if (exit.code !== 0)
      return {
        saved: false,
        why: `the editor exited with status ${exit.code}${exit.code === 127 ? ` (is "${options.editor}" installed?)` : ''}; nothing changed`,
      };
    const text = fs.readFileSync(file, 'utf8').replace(/\s+$/, '');
    if (!text.trim()) return { saved: false, why: 'the file was left empty; nothing changed' };
    return { saved: true, text };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
