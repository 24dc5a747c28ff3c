// A stand-in for an agent CLI that draws a spinner in place while it works (its status line ends
// in a question mark, as some do), and prints a line at the end of each step.
// `node pty-spinner.mjs STEPS [--ask]`: with --ask it then asks a question and waits for Enter.
const steps = Number(process.argv[2] ?? 4);
const ask = process.argv.includes('--ask');
const frames = ['|', '/', '-', '\\'];
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const out = (text) => process.stdout.write(text);
out('\x1b[?25l');
for (let step = 1; step <= steps; step++) {
  for (let frame = 0; frame < 12; frame++) {
    out(`\r\x1b[2K${frames[frame % frames.length]} working on step ${step} (frame ${frame}), all good?`);
    await sleep(5);
  }
  out(`\r\x1b[2Kstep ${step} done\r\n`);
  out(`::dreamos {"progress":${step / steps}}\r\n`);
}
out('\x1b[?25hfinished\r\n');
if (ask) {
  process.stdin.setRawMode(true);
  out('Shall I go on? ');
  process.stdin.once('data', () => {
    out('\r\ngoing on\r\n');
    process.exit(0);
  });
}
