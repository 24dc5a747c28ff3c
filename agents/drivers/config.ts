/**
 * The configuration of each driver kind, as config.json's `driver` field holds it. The drivers own
 * these schemas so that adding a driver touches only this folder; src/config.ts builds each agent's
 * configuration from the `Driver` union. A kind that is not built in is a plugin's
 * (docs/plugins.md#drivers): its other fields are kept as they are, for the plugin's own schema to
 * check when the orchestrator starts the agent.
 */
import * as z from 'zod';

const Seconds = z.number().positive();
const EnvName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/);

export const SimDriver = z.strictObject({
  kind: z.literal('sim'),
  /** Simulated work takes between these many seconds. */
  minSeconds: Seconds.default(2),
  maxSeconds: Seconds.default(6),
  /** Share of tasks that fail, and share that hang (stall) — for demos and tests. */
  failRate: z.number().min(0).max(1).default(0.1),
  stallRate: z.number().min(0).max(1).default(0),
});

export const ShellDriver = z.strictObject({
  kind: z.literal('shell'),
  cwd: z.string().optional(),
  shell: z.string().default('/bin/sh'),
  /** Secret variables (API keys, which driven programs do not get) to pass on to the program. */
  passEnv: z.array(EnvName).optional(),
});

export const CommandDriver = z.strictObject({
  kind: z.literal('command'),
  /** argv template: `{prompt}`, `{title}`, `{taskId}`, `{agentId}`, `{home}`, `{checkpoint}` are replaced inside elements. */
  argv: z.array(z.string()).min(1),
  cwd: z.string().optional(),
  env: z.record(z.string(), z.string()).default({}),
  /** Secret variables (API keys, which driven programs do not get) to pass on to the program. */
  passEnv: z.array(EnvName).optional(),
  worktree: z.boolean().default(false),
});

export const PtyDriver = z.strictObject({
  kind: z.literal('pty'),
  /**
   * argv template, as for `command` (the prompt is an argument, never typed), plus `{sessionId}`: a
   * new id (a UUID) for the run's conversation, for programs that take one (`claude --session-id`).
   */
  argv: z.array(z.string()).min(1),
  /**
   * argv template of a run that resumes a conversation: used instead of `argv` when the task's
   * checkpoint holds a session id, which `{sessionId}` is (`["claude", "--resume", "{sessionId}"]`).
   */
  resume: z.array(z.string()).min(1).optional(),
  /**
   * For programs that choose their session id themselves: a regular expression whose first group is
   * the id, looked for in the lines of the screen (`"session id: ([0-9a-f-]{36})"`).
   */
  sessionIdPattern: z
    .string()
    .min(1)
    .refine(
      (source) => {
        try {
          return RegExp(source) instanceof RegExp;
        } catch {
          return false;
        }
      },
      { message: 'not a valid regular expression' },
    )
    .optional(),
  /**
   * `"claude"`: write Claude Code settings that report its hook events (permission requests,
   * notifications, the end of its turn) to the session; `{hookSettings}` in the argv is their file
   * (`"--settings", "{hookSettings}"`).
   */
  hooks: z.enum(['claude']).optional(),
  /**
   * Where the terminal is: `"pty"` (default), in the orchestrator, ending with it; `"tmux"`, in a
   * tmux server of its own on a private socket of the workspace, which a restarted orchestrator
   * adopts (docs/sessions.md).
   */
  backend: z.enum(['pty', 'tmux']).optional(),
  /** The terminal's size until a client resizes it. */
  cols: z.number().int().min(20).max(1000).default(120),
  rows: z.number().int().min(5).max(500).default(40),
  cwd: z.string().optional(),
  env: z.record(z.string(), z.string()).default({}),
  /** Secret variables (API keys, which driven programs do not get) to pass on to the program. */
  passEnv: z.array(EnvName).optional(),
  worktree: z.boolean().default(false),
});

export const LlmDriver = z.strictObject({
  kind: z.literal('llm'),
  baseUrl: z.string().url(),
  model: z.string().min(1),
  /** Name of the environment variable holding the API key; the key itself is never stored. */
  apiKeyEnv: z
    .string()
    .regex(/^[A-Z_][A-Z0-9_]*$/)
    .optional(),
  maxTokens: z.number().int().positive().optional(),
  temperature: z.number().min(0).max(2).optional(),
  requestTimeoutSeconds: Seconds.default(120),
  contextBudgetTokens: z.number().int().positive().default(100_000),
});

export const BuiltInDriver = z.discriminatedUnion('kind', [
  SimDriver,
  ShellDriver,
  CommandDriver,
  PtyDriver,
  LlmDriver,
]);
export type BuiltInDriver = z.infer<typeof BuiltInDriver>;

export const BUILT_IN_KINDS: readonly string[] = [
  'sim',
  'shell',
  'command',
  'pty',
  'llm',
] satisfies BuiltInDriver['kind'][];

/** How a plugin's driver kind is spelt: as a plugin's name. */
export const PLUGIN_KIND_RE = /^[a-z0-9][a-z0-9._-]{0,63}$/;

/** A driver of a kind a plugin provides: `kind` and the plugin's options, plain JSON. */
export const PluginDriverConfig = z.looseObject({
  kind: z
    .string()
    .regex(PLUGIN_KIND_RE, 'lower-case letters, digits, ".", "_" and "-", at most 64')
    .refine((kind) => !BUILT_IN_KINDS.includes(kind), 'a built-in kind'),
});
export type PluginDriverConfig = z.infer<typeof PluginDriverConfig>;

/** A driver: a built-in kind, checked by its own schema, or a plugin's kind with its options. */
export const Driver = z.union([BuiltInDriver, PluginDriverConfig]);
export type Driver = BuiltInDriver | PluginDriverConfig;

export function isBuiltIn(driver: Driver): driver is BuiltInDriver {
  return BUILT_IN_KINDS.includes(driver.kind);
}
