/** The console says when it serves the HTTP API (`--serve`): where, and how many clients are connected, on its status line. */
import { afterEach, expect, test } from 'vitest';
import { cleanupAll, open } from '../../helpers/ui.js';

afterEach(cleanupAll);

test('the status line shows the address served and follows the number of clients', async () => {
  let clients = 0;
  const h = await open({ serving: { url: 'http://127.0.0.1:7420/api/v1', clients: () => clients } });
  const first = h.frame();
  expect(first).toContain('serving 127.0.0.1:7420, 0 clients');
  clients = 2;
  const next = await h.waitFor((f) => f.includes('2 clients'), 'the new count');
  expect(next).toContain('serving 127.0.0.1:7420, 2 clients');
});

test('a console that does not serve says nothing of it', async () => {
  const h = await open();
  expect(h.frame()).not.toContain('serving');
});
