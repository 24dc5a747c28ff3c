/**
 * config.json: agents, drivers and policies, validated with zod. A JSON Schema generated from the same
 * zod schema is written beside it (config.schema.json) for editors.
 */
import { z } from 'zod';
import { AgentId } from '../state/schemas.js';

const Seconds = z.number().positive();

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
});

export const CommandDriver = z.strictObject({
  kind: z.literal('command'),
  /** argv template: `{prompt}`, `{title}`, `{taskId}`, `{agentId}`, `{home}` are replaced inside elements. */
  argv: z.array(z.string()).min(1),
  cwd: z.string().optional(),
  env: z.record(z.string(), z.string()).default({}),
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

export const Driver = z.discriminatedUnion('kind', [SimDriver, ShellDriver, CommandDriver, LlmDriver]);
export type Driver = z.infer<typeof Driver>;

export const AgentConfig = z.strictObject({
  id: AgentId,
  name: z.string().min(1).max(60),
  role: AgentId,
  capabilities: z.array(z.string().min(1).max(64)).default([]),
  systemPrompt: z.string().max(20_000).default(''),
  driver: Driver,
  enabled: z.boolean().default(true),
});
export type AgentConfig = z.infer<typeof AgentConfig>;

export const Policies = z.strictObject({
  /** A claim holds its task this long unless renewed by a heartbeat. */
  leaseSeconds: Seconds.default(60),
  /** Lease expiries (stalls) a task may have before it fails. */
  maxStalls: z.number().int().positive().default(3),
  retry: z
    .strictObject({ baseSeconds: Seconds.default(5), maxSeconds: Seconds.default(300) })
    .default({ baseSeconds: 5, maxSeconds: 300 }),
  /** A ready task counts one priority level higher for every this many seconds it has waited. */
  agingSecondsPerLevel: Seconds.default(600),
  /** Completed tasks kept on the board; older ones roll into archive/. */
  keepCompleted: z.number().int().positive().default(1000),
});
export type Policies = z.infer<typeof Policies>;

export const Config = z
  .strictObject({
    schemaVersion: z.literal(1),
    name: z.string().max(100).default('dreamos'),
    agents: z.array(AgentConfig),
    policies: Policies.default(Policies.parse({})),
  })
  .superRefine((config, ctx) => {
    const seen = new Set<string>();
    for (const [i, agent] of config.agents.entries()) {
      if (agent.id === 'operator') {
        ctx.addIssue({ code: 'custom', path: ['agents', i, 'id'], message: '"operator" is reserved' });
      }
      if (seen.has(agent.id)) {
        ctx.addIssue({
          code: 'custom',
          path: ['agents', i, 'id'],
          message: `duplicate agent id ${agent.id}`,
        });
      }
      seen.add(agent.id);
    }
  });
export type Config = z.infer<typeof Config>;

export const OPERATOR = 'operator';

export function configJsonSchema(): unknown {
  return z.toJSONSchema(Config, { io: 'input', unrepresentable: 'any' });
}
