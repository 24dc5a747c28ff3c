// A stand-in for Claude Code's hooks: it reads the settings file given with `--settings FILE` and
// runs their commands as Claude Code does (a shell, the event as JSON on stdin), around a
// permission prompt and the end of its turn. `node pty-hooks.mjs --settings FILE`.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';

const settings = JSON.parse(fs.readFileSync(process.argv[process.argv.indexOf('--settings') + 1], 'utf8'));
const out = (text) => process.stdout.write(text);
const fire = (name, fields = {}) => {
  for (const group of settings.hooks?.[name] ?? [])
    for (const hook of group.hooks)
      execFileSync('/bin/sh', ['-c', hook.command], {
        input: JSON.stringify({ hook_event_name: name, session_id: 'hook-session-1', ...fields }),
        stdio: ['pipe', 'ignore', 'inherit'],
      });
};

process.stdin.setRawMode(true);
process.stdin.setEncoding('utf8');
fire('UserPromptSubmit');
out('I will run make.\r\n');
fire('Notification', { message: 'Claude needs your permission to use Bash' });
out('Bash(make) [allow] ');
let answers = 0;
process.stdin.on('data', (chunk) => {
  if (chunk !== '\r') return out(chunk);
  answers++;
  out('\r\n');
  if (answers === 1) {
    fire('PostToolUse', { tool_name: 'Bash' });
    out('make: done\r\n');
    fire('Stop');
    out('> ');
  } else process.exit(0);
});
