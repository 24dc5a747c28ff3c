/**
 * The scout inside the orchestrator: only the leader of the sweeps runs it, so two orchestrators on
 * one board never both poll the sources; when the leader stops, the other takes the scout over. And
 * an orchestrator started on a workspace with scout sources reads them on their interval, the
 * plugins' sources it is given among them.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startOrchestrator } from '../../../src/orchestrator/index.js';
import { initWorkspace, openWorkspace, type Workspace } from '../../../src/workspace.js';
import { waitFor } from '../../helpers/agents.js';
import { type FeedServer, rss, startFeedServer } from '../../helpers/feed-server.js';
import { tempDir, writePolicies } from '../../helpers/workspace.js';

let tmp: ReturnType<typeof tempDir>;
let home: string;
const open: Workspace[] = [];

beforeEach(async () => {
  tmp = tempDir('dreamos-scout-hook-');
  const ws = await initWorkspace({ dir: tmp.dir });
  home = ws.home;
  await ws.close();
  writePolicies(home, { heartbeatSeconds: 0.2 });
});
afterEach(async () => {
  for (const ws of open.splice(0)) await ws.close();
  tmp.cleanup();
});

const openWs = async () => {
  const ws = await openWorkspace({ home });
  open.push(ws);
  return ws;
};

describe('the scout in the orchestrator', () => {
  it("tells what the scout's run found damaged, as scout run does", async () => {
    const ws = await openWs();
    const errors: string[] = [];
    const orchestrator = await startOrchestrator(ws, {
      agents: ['agent-1'],
      scout: async () => ({ notices: ['scout/state.json is not valid JSON; it was moved to quarantine/x'] }),
      onEvent: (event) => {
        if (event.type === 'error') errors.push(event.message);
      },
    });
    try {
      await waitFor(() => errors.length > 0, 30_000);
      expect(errors[0]).toBe('scout: scout/state.json is not valid JSON; it was moved to quarantine/x');
    } finally {
      await orchestrator.stop();
    }
  });

  it('runs only in the leader of the sweeps, and moves with the lead', async () => {
    const calls = [0, 0];
    const [a, b] = [await openWs(), await openWs()];
    const first = await startOrchestrator(a, {
      agents: ['agent-1'],
      scout: async () => {
        calls[0]! += 1;
      },
    });
    const second = await startOrchestrator(b, {
      agents: ['agent-2'],
      scout: async () => {
        calls[1]! += 1;
      },
    });
    try {
      await waitFor(() => calls[0]! + calls[1]! >= 5, 30_000);
      // Whoever won the lead at start: the other has never run the scout.
      const leader = calls[0]! > 0 ? 0 : 1;
      expect(calls[1 - leader]).toBe(0);

      await [first, second][leader]!.stop();
      const before = calls[leader]!;
      await waitFor(() => calls[1 - leader]! > 0, 30_000);
      expect(calls[leader]).toBe(before);
    } finally {
      await Promise.all([first.stop(), second.stop()]);
    }
  }, 60_000);

  it('reads the configured sources on their interval, making their tasks', async () => {
    const server: FeedServer = await startFeedServer();
    try {
      server.routes.set('/rss', {
        kind: 'body',
        body: rss([{ guid: 'a', title: 'A lead' }]),
        etag: '"1"',
      });
      const file = path.join(home, 'config.json');
      const config = JSON.parse(fs.readFileSync(file, 'utf8'));
      config.scout = { sources: [{ id: 'news', kind: 'rss', url: `${server.url}/rss`, interval: 1 }] };
      fs.writeFileSync(file, JSON.stringify(config, null, 2));

      const ws = await openWs();
      const orchestrator = await startOrchestrator(ws, { agents: ['agent-1'] });
      try {
        await waitFor(() => ws.listTasks().some((t) => t.source === 'scout'), 30_000);
        // Due again after its interval: the next request is conditional.
        await waitFor(() => server.requests.some((r) => r.ifNoneMatch === '"1"'), 30_000);
      } finally {
        await orchestrator.stop();
      }
      expect(ws.listTasks().filter((t) => t.source === 'scout')).toMatchObject([
        { title: 'A lead', status: 'backlog', approval: { status: 'pending' } },
      ]);
    } finally {
      await server.close();
    }
  }, 60_000);

  it("reads the plugins' sources it is given, making their tasks once", async () => {
    let fetched = 0;
    const ws = await openWs();
    const orchestrator = await startOrchestrator(ws, {
      agents: ['agent-1'],
      pluginSources: () => [
        {
          plugin: 'leads',
          id: 'news',
          intervalSeconds: 1,
          fetch: async () => {
            fetched += 1;
            return [{ key: 'one', title: 'A lead from a plugin' }];
          },
        },
      ],
    });
    try {
      // Read again after its interval: the item is seen, so it stays one task.
      await waitFor(() => fetched >= 2, 30_000);
    } finally {
      await orchestrator.stop();
    }
    expect(ws.listTasks().filter((t) => t.source === 'scout')).toMatchObject([
      {
        title: 'A lead from a plugin',
        dedupeKey: 'plugin:leads:news:one',
        status: 'backlog',
        approval: { status: 'pending' },
      },
    ]);
  }, 60_000);
});
