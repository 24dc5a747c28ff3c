/**
 * What an llm agent sees: the role's system prompt with the rules of the board, the task, its last
 * checkpoint and its unacknowledged mail; and the tools it may call for board work. Also how big the
 * conversation is, and what a fresh context carries after a context reset (the summary).
 */

import { PRIORITIES } from '../../state/schemas.js';
import { cut } from '../../state/text.js';
import type { ChatMessage } from './llm-http.js';
import type { DriverContext } from './types.js';

const BOARD_RULES = [
  'You work on one task of the Dream.OS task board at a time.',
  'Use the tools: report_progress as you go; create_subtask for work that should be done separately;',
  'send_message to talk to another agent or to the operator (recipient "operator");',
  'finish_task with a short summary when the task is done, or fail_task with the reason when it cannot be done.',
].join(' ');

const MAX_MAIL = 20;
const MAX_MAIL_BODY = 2000;

export function systemPrompt(ctx: Pick<DriverContext, 'agent'>): string {
  const role = ctx.agent.systemPrompt.trim();
  return role ? `${role}\n\n${BOARD_RULES}` : BOARD_RULES;
}

export function taskPrompt(ctx: Pick<DriverContext, 'task' | 'checkpoint' | 'mailbox'>): string {
  const { task, checkpoint } = ctx;
  const parts = [`Task ${task.id}: ${task.title}`];
  const facts = [`priority ${task.priority}`];
  if (task.tags.length > 0) facts.push(`tags ${task.tags.join(', ')}`);
  if (task.resources.length > 0) facts.push(`only touch ${task.resources.join(', ')}`);
  parts.push(`(${facts.join('; ')})`);
  if (task.prompt) parts.push('', task.prompt);
  if (task.run) parts.push('', `The task's command: ${task.run}`);
  const back = task.code?.last;
  if (back) {
    const why =
      back.reason === 'rejected'
        ? `A reviewer (${back.by}) rejected your last work on ${task.code?.branch} and asks:`
        : back.reason === 'merge-conflict'
          ? `Your branch ${task.code?.branch} conflicts with ${task.code?.base}; bring it up to date and resolve:`
          : `The merge gate failed on your branch ${task.code?.branch}:`;
    parts.push('', why, back.text);
  }
  if (checkpoint) {
    const cp = [
      checkpoint.step ? `step: ${checkpoint.step}` : '',
      checkpoint.progress !== null ? `progress: ${Math.round(checkpoint.progress * 100)}%` : '',
      checkpoint.summary ? `summary: ${checkpoint.summary}` : '',
    ].filter(Boolean);
    if (cp.length > 0) parts.push('', 'You worked on this before. Your last checkpoint:', ...cp);
  }
  const mail = ctx.mailbox.filter((m) => m.type !== 'directive').slice(-MAX_MAIL);
  if (mail.length > 0) {
    parts.push('', 'Messages for you:');
    for (const m of mail) {
      const body = m.body.length > MAX_MAIL_BODY ? `${m.body.slice(0, MAX_MAIL_BODY)}…` : m.body;
      parts.push(`- from ${m.from} (${m.type}${m.task ? `, about ${m.task}` : ''}): ${body}`);
    }
  }
  return parts.join('\n');
}

export function initialMessages(ctx: DriverContext): ChatMessage[] {
  return [
    { role: 'system', content: systemPrompt(ctx) },
    { role: 'user', content: taskPrompt(ctx) },
  ];
}

const fn = (name: string, description: string, properties: Record<string, unknown>, required: string[]) => ({
  type: 'function',
  function: {
    name,
    description,
    parameters: { type: 'object', properties, required, additionalProperties: false },
  },
});

/**
 * The board tools. A sub-task gets no `run` command: a model (or text injected into its context)
 * must not be able to hand shell commands to the shell agents.
 */
export const TOOLS = [
  fn(
    'create_subtask',
    'Add a task to the board for yourself or another role.',
    {
      title: { type: 'string', description: 'One line.' },
      prompt: { type: 'string', description: 'What to do, in detail.' },
      role: { type: 'string', description: 'The role that should take it (e.g. testing).' },
      priority: { type: 'string', enum: [...PRIORITIES] },
    },
    ['title'],
  ),
  fn(
    'send_message',
    'Send a message to another agent or to the operator.',
    { to: { type: 'string', description: 'An agent id, or "operator".' }, body: { type: 'string' } },
    ['to', 'body'],
  ),
  fn(
    'report_progress',
    'Report how far the task is (0 to 1), optionally with the current step and a summary to resume from.',
    {
      progress: { type: 'number', minimum: 0, maximum: 1 },
      step: { type: 'string' },
      summary: { type: 'string' },
    },
    ['progress'],
  ),
  fn('finish_task', 'The task is done.', { summary: { type: 'string' } }, ['summary']),
  fn('fail_task', 'The task cannot be done.', { reason: { type: 'string' } }, ['reason']),
];

// ---------------------------------------------------------------- context budget

/** Rough size of text in tokens when the server has not counted it (about four characters a token). */
export const CHARS_PER_TOKEN = 4;
const TOOLS_CHARS = JSON.stringify(TOOLS).length;

function charsOf(messages: readonly ChatMessage[]): number {
  let n = 0;
  for (const m of messages) {
    n += (m.content ?? '').length + 8;
    if (m.role === 'assistant')
      for (const call of m.tool_calls ?? [])
        n += call.function.name.length + call.function.arguments.length + 16;
  }
  return n;
}

/**
 * The size of a conversation in tokens: what the server counted at the last turn (prompt and reply),
 * plus an estimate of what was added since (tool results); an estimate of everything until the
 * server has counted once.
 */
export class ContextMeter {
  private counted = 0;
  private countedChars = 0;

  /** The server counted `tokens` for the conversation as it is now. */
  measured(tokens: number, messages: readonly ChatMessage[]): void {
    this.counted = tokens;
    this.countedChars = charsOf(messages);
  }

  tokens(messages: readonly ChatMessage[]): number {
    if (this.counted === 0) return Math.ceil((charsOf(messages) + TOOLS_CHARS) / CHARS_PER_TOKEN);
    return this.counted + Math.ceil(Math.max(0, charsOf(messages) - this.countedChars) / CHARS_PER_TOKEN);
  }

  /** A fresh context: nothing counted yet. */
  reset(): void {
    this.counted = 0;
    this.countedChars = 0;
  }
}

export const SUMMARY_REQUEST = [
  'Your context is nearly full and will be reset: this conversation will be replaced by your summary.',
  'Write the summary you need to continue the task without it: what is done, what you found,',
  'what remains and how you mean to do it, and every id, name or value you will need again',
  '(sub-tasks, files, messages). Reply with the summary only, as plain text; do not call tools.',
].join(' ');

/** A fresh context after a reset: the system prompt, the task (with its mail) and the summary. */
export function resetMessages(ctx: DriverContext, summary: string, resets: number): ChatMessage[] {
  const note = [
    '',
    `Your conversation on this task grew near its context budget and was reset (reset ${resets}).`,
    'Your summary of the work so far:',
    summary,
    '',
    'Continue from there; do not redo finished steps.',
  ].join('\n');
  return [
    { role: 'system', content: systemPrompt(ctx) },
    { role: 'user', content: `${taskPrompt({ ...ctx, checkpoint: null })}\n${note}` },
  ];
}

/**
 * A summary built from the conversation itself, when the model could not write one: the earlier
 * summary, the progress reported, the latest tool calls with their results and the model's last
 * words, newest kept first when they do not all fit in `maxChars`.
 */
export function conversationSummary(messages: readonly ChatMessage[], maxChars: number): string {
  const head = 'Summary built from the conversation (the model could not write one).';
  const earlier = messages
    .filter((m) => m.role === 'user' && m.content.includes('Your summary of the work so far:'))
    .map((m) => (m.content as string).split('Your summary of the work so far:\n')[1] ?? '')
    .at(-1);
  const results = new Map<string, string>();
  for (const m of messages) if (m.role === 'tool') results.set(m.tool_call_id, m.content);
  const events: string[] = [];
  let lastWords = '';
  for (const m of messages) {
    if (m.role !== 'assistant') continue;
    if (m.content) lastWords = m.content;
    for (const call of m.tool_calls ?? []) {
      const result = results.get(call.id);
      events.push(
        `- ${call.function.name} ${cut(call.function.arguments, 300)}${result ? ` → ${cut(result, 200)}` : ''}`,
      );
    }
  }
  const fixed = [
    head,
    ...(earlier ? [`Earlier summary: ${cut(earlier.trim(), Math.floor(maxChars / 3))}`] : []),
    ...(lastWords ? [`Your last words: ${cut(lastWords.trim(), 500)}`] : []),
  ];
  let room = maxChars - fixed.join('\n').length - 40;
  const kept: string[] = [];
  for (let i = events.length - 1; i >= 0 && room > 0; i--) {
    const line = events[i]!;
    if (line.length + 1 > room) break;
    kept.unshift(line);
    room -= line.length + 1;
  }
  const calls = kept.length
    ? [
        `Tool calls so far${kept.length < events.length ? ` (the last ${kept.length} of ${events.length})` : ''}:`,
        ...kept,
      ]
    : [];
  return cut([...fixed, ...calls].join('\n'), maxChars);
}
