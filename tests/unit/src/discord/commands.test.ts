/**
 * The `/dreamos` definitions as Discord's API checks them when they are registered: names,
 * descriptions and counts within its limits, required options before optional ones; and an
 * invocation read only through the types the definitions declare.
 */
import { describe, expect, it } from 'vitest';
import { commandDefinitions, invocationOf, SUBCOMMANDS } from '../../../../src/discord/commands.js';

interface Option {
  type: number;
  name: string;
  description: string;
  required?: boolean;
  choices?: unknown[];
  options?: Option[];
}

/** https://discord.com/developers/docs/interactions/application-commands#application-command-object */
function check(option: Option, where: string): void {
  expect(option.name, where).toMatch(/^[-_\p{Ll}\p{N}]{1,32}$/u);
  expect(option.description.length, where).toBeGreaterThan(0);
  expect(option.description.length, where).toBeLessThanOrEqual(100);
  const children = option.options ?? [];
  expect(children.length, where).toBeLessThanOrEqual(25);
  expect(option.choices?.length ?? 0, where).toBeLessThanOrEqual(25);
  const firstOptional = children.findIndex((o) => !o.required);
  if (firstOptional >= 0)
    expect(
      children.slice(firstOptional).every((o) => !o.required),
      where,
    ).toBe(true);
  for (const child of children) check(child, `${where} ${child.name}`);
}

describe('the /dreamos definitions', () => {
  it('are within what Discord accepts', () => {
    const [command] = commandDefinitions() as unknown as Option[];
    check(command!, '/dreamos');
  });

  it('declare every subcommand the endpoint runs, and nothing else', () => {
    const [command] = commandDefinitions() as unknown as Option[];
    const paths = command!.options!.flatMap((o) =>
      o.type === 2 ? o.options!.map((s) => `${o.name} ${s.name}`) : [o.name],
    );
    expect(paths.sort()).toEqual(SUBCOMMANDS.map((s) => s.path).sort());
  });

  it('read options only with the type they are declared with', () => {
    const add = (value: unknown) => [
      {
        name: 'task',
        type: 2,
        options: [{ name: 'add', type: 1, options: [{ name: 'title', type: 3, value }] }],
      },
    ];
    expect(invocationOf('dreamos', add('Fix it')).args).toEqual({ title: 'Fix it' });
    expect(() => invocationOf('dreamos', add(7))).toThrow(/unexpected option title/);
    expect(() =>
      invocationOf('dreamos', [{ name: 'task', type: 2, options: [{ name: 'add', type: 1 }] }]),
    ).toThrow(/needs title/);
    expect(() => invocationOf('dreamos', [{ name: 'shell', type: 1 }])).toThrow(/no subcommand/);
    expect(() => invocationOf('other', [])).toThrow(/\/dreamos only/);
  });
});
