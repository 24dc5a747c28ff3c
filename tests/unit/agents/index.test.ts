/** createDriver: one driver per config kind, each accepting the tasks it can work on. */
import { describe, expect, it } from 'vitest';
import { createDriver } from '../../../agents/drivers/index.js';
import { Driver } from '../../../src/config.js';
import { makeTask } from '../../helpers/agents.js';

describe('createDriver', () => {
  it('builds the driver of each kind from its config', () => {
    const configs = [
      Driver.parse({ kind: 'sim' }),
      Driver.parse({ kind: 'shell' }),
      Driver.parse({ kind: 'command', argv: ['claude', '-p', '{prompt}'] }),
      Driver.parse({ kind: 'llm', baseUrl: 'http://127.0.0.1:1/v1', model: 'm' }),
    ];
    const withRun = makeTask({ run: 'make test' });
    const withoutRun = makeTask({ prompt: 'write the docs' });
    const table = configs.map((config) => {
      const driver = createDriver(config);
      return [driver.kind, driver.accepts(withRun), driver.accepts(withoutRun)];
    });
    expect(table).toEqual([
      ['sim', false, true],
      ['shell', true, false],
      ['command', true, true],
      ['llm', true, true],
    ]);
  });
});
