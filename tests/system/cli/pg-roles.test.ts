/**
 * Hosts of one PostgreSQL board may run different agents: a task added on one host may name a role
 * (or an agent id) that the board's recorded configuration has, though this host's config.json does
 * not. A name that neither knows is still refused. Build first: the CLI runs dist/.
 */
import path from 'node:path';
import { expect, it } from 'vitest';
import { defaultAgents } from '../../../agents/roles.js';
import { initWorkspace } from '../../../src/workspace.js';
import type { Task } from '../../../state/schemas.js';
import { cleanupsAfterEach } from '../../helpers/cleanups.js';
import { show } from '../../helpers/cli.js';
import { describePg, TEST_PG_URL, testSchema } from '../../helpers/pg.js';
import { cli, tempDir } from '../../helpers/workspace.js';

describePg('a role named by a task on a PostgreSQL board', () => {
  const cleanups = cleanupsAfterEach();

  it("is checked against the board's recorded agents as well as this host's", async () => {
    const { schema } = await testSchema('dreamos_roles');
    const tmp = tempDir();
    cleanups.push(tmp.cleanup);
    // The first host records its configuration, with an agent the second host does not have.
    const [first] = defaultAgents();
    const auditor = { ...first!, id: 'agent-9', name: 'Auditor', role: 'auditor' };
    const a = await initWorkspace({
      dir: path.join(tmp.dir, 'a'),
      backend: 'postgres',
      agents: [...defaultAgents(), auditor],
      config: { state: { url: TEST_PG_URL, schema } },
    });
    await a.close();
    const bDir = path.join(tmp.dir, 'b');
    const env = { DREAMOS_INIT_DRIVER: 'shell', DREAMOS_STORE: '' };
    const join = cli(
      ['init', '--dir', bDir, '--backend', 'postgres', '--store', TEST_PG_URL, '--schema', schema],
      { cwd: tmp.dir, env },
    );
    expect(join.code, show(join)).toBe(0);
    const agentsOfB = cli(['--home', bDir, 'agent', 'list', '--json'], { cwd: tmp.dir, env });
    expect(agentsOfB.code, show(agentsOfB)).toBe(0);
    expect(JSON.stringify(agentsOfB.json())).not.toContain('agent-9');

    for (const role of ['auditor', 'agent-9']) {
      const added = cli(['--home', bDir, 'task', 'add', `for ${role}`, '--role', role, '--json'], {
        cwd: tmp.dir,
        env,
      });
      expect(added.code, show(added)).toBe(0);
      expect(added.json<Task>().role).toBe(role);
    }
    const unknown = cli(['--home', bDir, 'task', 'add', 'for nobody', '--role', 'nobody', '--json'], {
      cwd: tmp.dir,
      env,
    });
    expect(unknown.code, show(unknown)).toBe(3);
    expect(unknown.stderr).toContain('no agent has the role or id "nobody"');
  });
});
