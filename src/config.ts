/**
 * config.json: agents, drivers and policies, validated with zod. A JSON Schema generated from the same
 * zod schema is written beside it (config.schema.json) for editors.
 */

import * as z from 'zod';
import { Driver } from '../agents/drivers/config.js';
import { parseDetachKey } from '../agents/sessions/keys.js';
import { DEFAULT_BACKEND } from '../state/backends.js';
import { AgentId } from '../state/schemas.js';
import { DiscordAppConfig } from './discord/config.js';
import { EventWords } from './events.js';
import { GithubConfig } from './github/config.js';
import { ScoutConfig } from './scout/config.js';

export {
  BuiltInDriver,
  CommandDriver,
  Driver,
  isBuiltIn,
  LlmDriver,
  PluginDriverConfig,
  ShellDriver,
  SimDriver,
} from '../agents/drivers/config.js';

const Seconds = z.number().positive();

/** USD per million tokens (see agents/drivers/prices.ts for the defaults). */
export const Price = z.strictObject({
  inputPerMTok: z.number().nonnegative(),
  outputPerMTok: z.number().nonnegative(),
});

export const AgentConfig = z.strictObject({
  id: AgentId,
  name: z.string().min(1).max(60),
  role: AgentId,
  capabilities: z.array(z.string().min(1).max(64)).default([]),
  systemPrompt: z.string().max(20_000).default(''),
  driver: Driver,
  enabled: z.boolean().default(true),
  /** Run this agent's tasks on their own branch and worktree (default: command and llm agents). */
  code: z.boolean().optional(),
});
export type AgentConfig = z.infer<typeof AgentConfig>;

/**
 * Drift detection (docs/drift.md): one rule per kind, each with thresholds and the corrective action taken
 * when it fires. `escalate` raises the alert only; the other actions are journaled with it.
 */
export const DRIFT_ACTIONS = ['requeue', 'stop', 'cancel', 'pause', 'reset-context', 'escalate'] as const;
export type DriftAction = (typeof DRIFT_ACTIONS)[number];
const action = <A extends DriftAction>(allowed: readonly [A, ...A[]], fallback: NoInfer<A>) =>
  z.enum(allowed).default(fallback as never);
const Share = z.number().positive().max(1);

const DriftPolicies = z.strictObject({
  /** Stall: an agent's heartbeat older than `heartbeatIntervals` × heartbeatSeconds while it holds a
   *  working task (its orchestrator hung or died); or a running task silent for `silentSeconds`. */
  stall: z
    .strictObject({
      enabled: z.boolean().default(true),
      heartbeatIntervals: z.number().min(1).default(2),
      action: action(['requeue', 'escalate'], 'requeue'),
      /** No output in the task's log for this long (0: never). */
      silentSeconds: z.number().nonnegative().default(900),
      silentAction: action(['escalate', 'requeue', 'stop'], 'escalate'),
    })
    .prefault({}),
  /** Overrun: past the task's `timeout` (+ grace), or far past the usual duration of its kind. */
  overrun: z
    .strictObject({
      enabled: z.boolean().default(true),
      timeoutGraceSeconds: z.number().nonnegative().default(15),
      action: action(['stop', 'requeue', 'cancel', 'escalate'], 'stop'),
      /** Usual duration: the median of finished tasks of the same role and tags, times this factor. */
      usualFactor: z.number().min(1).default(3),
      usualMinSamples: z.number().int().positive().default(5),
      /** Never call a task overrun before this many seconds. */
      usualMinSeconds: Seconds.default(120),
      usualAction: action(['escalate', 'stop', 'requeue', 'cancel'], 'escalate'),
    })
    .prefault({}),
  /** Repeated failure: an agent's last `attempts` attempts all failed (with the same error). */
  repeatedFailure: z
    .strictObject({
      enabled: z.boolean().default(true),
      attempts: z.number().int().min(2).default(3),
      sameError: z.boolean().default(true),
      action: action(['pause', 'escalate'], 'pause'),
    })
    .prefault({}),
  /** Context drift (llm agents): context near the driver's contextBudgetTokens, or a session too long. */
  contextDrift: z
    .strictObject({
      enabled: z.boolean().default(true),
      budgetShare: Share.default(0.8),
      maxSessionSeconds: Seconds.default(3600),
      action: action(['reset-context', 'escalate'], 'reset-context'),
    })
    .prefault({}),
  /** Scope drift: files changed in the agent's git working folder outside the task's `resources`. */
  scopeDrift: z
    .strictObject({
      enabled: z.boolean().default(true),
      /** Globs never counted (the workspace folder itself is always ignored). */
      ignore: z.array(z.string().min(1)).default([]),
      action: action(['escalate', 'stop', 'cancel', 'pause'], 'escalate'),
    })
    .prefault({}),
  /** Budget: tokens, money or time spent past the task's `budget`. */
  budget: z
    .strictObject({
      enabled: z.boolean().default(true),
      action: action(['stop', 'cancel', 'escalate'], 'stop'),
    })
    .prefault({}),
});

const MiB = 1024 * 1024;
const Cap = z.number().int().positive();

/**
 * Bounds on what piles up in the state (docs/security.md, "Limits on inputs"): past them a send,
 * add, import or edit is refused with E_LIMIT (exit 4), long before a snapshot file is too large to
 * write. Sizes are in characters (UTF-16 code units, as JavaScript counts string length).
 */
const Limits = z
  .strictObject({
    /** Unacknowledged messages in one mailbox (directives excepted). */
    mailboxMessages: Cap.default(1000),
    /** Characters of unacknowledged message bodies in one mailbox (directives excepted). */
    mailboxChars: Cap.default(4 * MiB),
    /** Characters of unacknowledged message bodies in all mailboxes together (directives excepted). */
    mailChars: Cap.default(32 * MiB),
    /** Characters of the tasks on the boards (every task not archived), as JSON. Default 64 Mi. */
    boardChars: Cap.optional(),
    /** Characters of the tasks of one `task add` or `task import`, as JSON. Default 16 Mi. */
    importChars: Cap.optional(),
    /** The former name of boardChars, still read. */
    promptChars: Cap.optional(),
    /** The former name of importChars, still read. */
    importPromptChars: Cap.optional(),
  })
  .superRefine((limits, ctx) => {
    for (const [now, was] of [
      ['boardChars', 'promptChars'],
      ['importChars', 'importPromptChars'],
    ] as const) {
      if (limits[now] !== undefined && limits[was] !== undefined)
        ctx.addIssue({ code: 'custom', path: [was], message: `the former name of ${now}: give only ${now}` });
    }
  })
  .transform(({ promptChars, importPromptChars, boardChars, importChars, ...rest }) => ({
    ...rest,
    boardChars: boardChars ?? promptChars ?? 64 * MiB,
    importChars: importChars ?? importPromptChars ?? 16 * MiB,
  }));
export type Limits = z.infer<typeof Limits>;

const ApprovalPolicy = z.enum(['operator', 'auto']).default('operator');
/** The sources whose tasks wait for approval unless the policy says `auto`. */
export const OUTSIDE_SOURCES = ['webhook', 'discord', 'scout', 'api'] as const;
export type OutsideSource = (typeof OUTSIDE_SOURCES)[number];

/**
 * Code tasks: a branch and worktree per task, review, and the merge queue (docs/review.md,
 * docs/decisions/review-and-merge.md).
 */
export const ReviewPolicies = z.strictObject({
  /** Give code tasks their own branch and worktree (agents of the `command` and `llm` kinds). */
  worktrees: z.boolean().default(true),
  /** The branch code tasks start from and merge into; default: the one checked out in the repository. */
  base: z.string().min(1).max(250).optional(),
  /** `operator`: a reviewer approves each task; `auto`: approved at once (the gate still runs). */
  policy: z.enum(['operator', 'auto']).default('operator'),
  /** Roles whose agents may approve or reject (the operator always may). */
  reviewers: z.array(AgentId).max(32).default(['captain']),
  /** How the queue brings a branch onto the current base. */
  strategy: z.enum(['rebase', 'merge']).default('rebase'),
  /** The gate: a shell command run in the merged tree as a task of `gateRole`; none passes at once. */
  gate: z.string().max(20_000).optional(),
  gateRole: AgentId.default('testing'),
  gateTimeoutSeconds: Seconds.default(1800),
  /** `pr`: push the branch and open a pull request with `gh` instead of moving the base. */
  mode: z.enum(['merge', 'pr']).default('merge'),
  remote: z.string().min(1).max(100).default('origin'),
  /** A merged or dropped task's branch is kept this long, then `worktree prune` deletes it. */
  keepBranchDays: z.number().nonnegative().default(14),
});
export type ReviewPolicies = z.infer<typeof ReviewPolicies>;

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
  /** How often a running agent proves it is alive (and renews its task's lease). */
  heartbeatSeconds: Seconds.default(5),
  /** Stopping a driven process: SIGTERM, then SIGKILL after this long. */
  killGraceSeconds: Seconds.default(3),
  /**
   * Sub-tasks an llm agent proposes (create_subtask) wait in the backlog for the operator's
   * `task promote` (attention reason needs-approval); true lets them go straight to ready.
   */
  autoApproveSubtasks: z.boolean().default(false),
  /**
   * Who approves work from outside, per source (docs/decisions/outside-work-approval.md):
   * `operator` (the default) keeps it in the backlog until someone runs `task approve`; `auto`
   * lets it run at once. `api` applies to requests whose token lacks the tasks:approve scope.
   */
  approval: z
    .strictObject({
      webhook: ApprovalPolicy,
      discord: ApprovalPolicy,
      scout: ApprovalPolicy,
      api: ApprovalPolicy,
    })
    .prefault({}),
  limits: Limits.prefault({}),
  drift: DriftPolicies.prefault({}),
  review: ReviewPolicies.prefault({}),
});
export type Policies = z.infer<typeof Policies>;

/** An npm package name (`ntfy-notifier`, `@acme/dreamos-plugin`): a plugin the project installed. */
const PackageName = z
  .string()
  .max(214)
  .regex(/^(@[a-z0-9-~][a-z0-9-._~]*\/)?[a-z0-9-~][a-z0-9-._~]*$/, 'an npm package name, not a path');

/**
 * The notifiers built in (docs/notifiers.md). Secrets are never here: the Discord webhook URL
 * comes from DREAMOS_DISCORD_WEBHOOK_URL or the file `urlFile` names.
 */
const Notifiers = z.strictObject({
  discord: z
    .strictObject({
      enabled: z.boolean().default(true),
      /** Filter words: event types, kinds or `*` (default: attention items, alerts, dead letters). */
      events: EventWords.optional(),
      /** A file holding the webhook URL, relative to the workspace folder; mode 600. */
      urlFile: z.string().min(1).max(1000).optional(),
    })
    .optional(),
});

/**
 * The console (docs/console.md, "Being told"): when the attention inbox gains an item, ring the
 * terminal bell and send a desktop notification through the terminal (OSC 9 and OSC 777). A
 * read-only console does neither.
 */
const ConsoleSettings = z.strictObject({
  bell: z.boolean().default(true),
  desktop: z.boolean().default(true),
  /** Notifications closer together than this are gathered into one. */
  quietSeconds: z.number().nonnegative().max(3600).default(10),
  /**
   * The key that detaches from an attached session (`ctrl-]` unless set): `dreamos agent attach`'s
   * `--detach-key` and DREAMOS_DETACH_KEY win over it.
   */
  detachKey: z
    .string()
    .max(20)
    .refine(
      (spec) => parseDetachKey(spec) !== null,
      'not a Ctrl key a terminal sends as one byte (ctrl-], ctrl-b, ctrl-q, …)',
    )
    .optional(),
});

export const Config = z
  .strictObject({
    schemaVersion: z.literal(1),
    name: z.string().max(100).default('dreamos'),
    agents: z.array(AgentConfig),
    policies: Policies.prefault({}),
    /** Prices of llm models by model name, over the built-in table (a model without one has an unknown cost). */
    prices: z.record(z.string().min(1).max(200), Price).default({}),
    /** Plugins installed as packages, loaded with those in .dreamos/plugins/ (docs/plugins.md). */
    plugins: z.array(PackageName).max(50).default([]),
    notifiers: Notifiers.prefault({}),
    console: ConsoleSettings.prefault({}),
    /** The sources the scout watches for work (docs/scout.md). */
    scout: ScoutConfig,
    /** GitHub issues turned into tasks, by webhook and by polling (docs/github.md). */
    github: GithubConfig.optional(),
    /** The Discord application whose slash commands reach this workspace (docs/discord.md). */
    discord: DiscordAppConfig.optional(),
    /**
     * Where the state is kept: the name of a backend registered in state/backends.ts, chosen at init
     * and read on every open (docs/decisions/state-backend.md). A config.json without it is json's.
     */
    state: z
      .strictObject({
        backend: z.string().min(1).max(60).default(DEFAULT_BACKEND),
        /** The postgres backend's server, without a password (PGPASSWORD or ~/.pgpass hold it). */
        url: z
          .string()
          .max(500)
          .regex(/^postgres(ql)?:\/\//, 'a postgres:// address')
          .refine(
            (url) =>
              !URL.canParse(url) || (!new URL(url).password && !new URL(url).searchParams.has('password')),
            {
              message: 'no password here: keep it in PGPASSWORD or ~/.pgpass',
            },
          )
          .optional(),
        /** The postgres backend's schema: one per workspace (default dreamos). */
        schema: z
          .string()
          .regex(/^[a-z_][a-z0-9_]{0,62}$/, 'a plain PostgreSQL name (lower-case letters, digits and _)')
          .optional(),
      })
      .prefault({}),
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
    const roles = new Set(config.agents.flatMap((a) => [a.id, a.role]));
    for (const [i, source] of config.scout.sources.entries()) {
      if (source.role && !roles.has(source.role))
        ctx.addIssue({
          code: 'custom',
          path: ['scout', 'sources', i, 'role'],
          message: `no agent has the role or id ${source.role}`,
        });
    }
    if (config.github?.role && !roles.has(config.github.role))
      ctx.addIssue({
        code: 'custom',
        path: ['github', 'role'],
        message: `no agent has the role or id ${config.github.role}`,
      });
  });
export type Config = z.infer<typeof Config>;

export const OPERATOR = 'operator';

export function configJsonSchema(): unknown {
  return z.toJSONSchema(Config, { io: 'input', unrepresentable: 'any' });
}
