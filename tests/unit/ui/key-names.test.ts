/**
 * Key names are checked when the bindings table is defined: a name the console never produces
 * (`page-up` for `pageup`) fails at once, naming the valid ones, instead of leaving a command
 * without a key.
 */
import type { Key } from 'ink';
import { describe, expect, test } from 'vitest';
import { keyEvent } from '../../../ui/input.js';
import { checkKeyNames, isKeyName, NAMED_KEYS } from '../../../ui/key-names.js';
import { BINDINGS } from '../../../ui/keymap.js';

describe('key names', () => {
  test('every key of the bindings table is a valid name', () => {
    for (const binding of BINDINGS) for (const key of binding.keys) expect(isKeyName(key), key).toBe(true);
  });

  test('an unknown key name throws when the table is defined, listing the valid names', () => {
    const table = [
      { command: 'top', keys: ['g'] },
      { command: 'page-up', keys: ['page-up', 'ctrl-b'] },
    ];
    expect(() => checkKeyNames(table)).toThrow(
      /unknown key name 'page-up' for the command 'page-up': a key is one of up, .*pageup, pagedown/,
    );
    expect(checkKeyNames(table.slice(0, 1))).toEqual([{ command: 'top', keys: ['g'] }]);
  });

  test('accepts characters, named keys, ctrl-letter and meta-character; rejects the rest', () => {
    for (const good of ['j', 'G', ':', '?', '+', 'é', 'ctrl-u', 'meta-x', 'shift-tab', 'pageup', 'space'])
      expect(isKeyName(good), good).toBe(true);
    for (const bad of [
      '',
      ' ',
      'ab',
      'Enter',
      'page-up',
      'ctrl-',
      'ctrl-U',
      'ctrl-ab',
      'meta-',
      'escape',
      '\u0007',
    ])
      expect(isKeyName(bad), JSON.stringify(bad)).toBe(false);
  });

  test('the names input.ts makes of special keys are the named keys', () => {
    const flags: Array<keyof Key> = [
      'upArrow',
      'downArrow',
      'pageUp',
      'pageDown',
      'home',
      'end',
      'return',
      'escape',
    ];
    for (const flag of flags) {
      const { name } = keyEvent('', { [flag]: true } as unknown as Key);
      expect(NAMED_KEYS as readonly string[], flag).toContain(name);
    }
  });
});
