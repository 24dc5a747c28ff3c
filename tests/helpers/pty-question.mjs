// A stand-in for an interactive agent CLI in a terminal: it shows its prompt and its conversation,
// asks a question and reads the answer key by key (raw mode), like the real ones. A chunk holding
// text and Enter together is a paste, refused as the real CLIs take it; a control key is shown as
// `[key 1d]`. `node pty-question.mjs PROMPT [--session-id ID | --resume ID | --own-session]
// [--hostile] [--loop]`.
const [, , prompt = '', ...flags] = process.argv;
const flag = (name) => {
  const i = flags.indexOf(name);
  return i === -1 ? undefined : flags[i + 1];
};
const out = (text) => process.stdout.write(text);
process.stdin.setRawMode(true);
process.stdin.setEncoding('utf8');

if (flag('--session-id')) out(`conversation ${flag('--session-id')} (new)\r\n`);
if (flag('--resume')) out(`conversation ${flag('--resume')} (resumed)\r\n`);
if (flags.includes('--own-session')) out('session id: 5f0c9a1e-0000-4000-8000-00000000beef\r\n');
if (flags.includes('--hostile')) {
  // Device attributes and cursor position asked; the clipboard, the title and a DCS query tried;
  // mouse reporting switched on.
  out('\x1b[c\x1b[6n\x1b]52;c;cHduZWQ=\x07\x1b]0;pwned title\x07\x1bP+q544e\x1b\\\x1b[?1000h');
}
out(`prompt: ${prompt}\r\n`);
process.stdout.on('resize', () => out(`\r\nsize ${process.stdout.columns}x${process.stdout.rows}\r\n`));

let answer = '';
const ask = () => out('Proceed with the change? answer: ');
ask();
process.stdin.on('data', (chunk) => {
  if (/^\x1b\[\?[\d;]*c/.test(chunk) || /^\x1b\[\d+;\d+R/.test(chunk)) {
    out(
      `\r\n[terminal answered ${JSON.stringify(chunk)
        .slice(1, -1)
        .replace(/\\u001b/g, 'ESC')}]\r\n`,
    );
    ask();
    return;
  }
  if (chunk.includes('\r') && chunk.length > 1) {
    out('\r\n[paste refused]\r\n');
    answer = '';
    ask();
    return;
  }
  if (chunk === '\r') {
    out(`\r\nanswer: ${answer}\r\n`);
    if (flags.includes('--loop') && answer !== 'bye') {
      answer = '';
      ask();
      return;
    }
    out(`::dreamos {"checkpoint":{"step":"answered ${answer}"}}\r\n`);
    process.exit(0);
  }
  for (const c of chunk) {
    const code = c.charCodeAt(0);
    if (code < 0x20 || code === 0x7f) out(`[key ${code.toString(16).padStart(2, '0')}]`);
    else {
      answer += c;
      out(c);
    }
  }
});
