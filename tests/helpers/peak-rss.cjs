// Preloaded (node --require) into a CLI process under test: at exit it appends its peak resident
// memory, as the kernel counted it, to the file named by DREAMOS_TEST_PEAK_RSS (kilobytes).
const fs = require('node:fs');

process.on('exit', () => {
  fs.appendFileSync(process.env.DREAMOS_TEST_PEAK_RSS, `${process.resourceUsage().maxRSS}\n`);
});
