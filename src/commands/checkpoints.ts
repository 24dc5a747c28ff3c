/**
 * `dreamos checkpoint save`: a driven program (or the operator, naming the agent) records where the
 * work stands. A program run by an agent is that agent (DREAMOS_AGENT_ID) on its task
 * (DREAMOS_TASK_ID); the checkpoint gets the commit of the agent's working folder like those the loop
 * records.
 */
import { type Command, InvalidArgumentError } from 'commander';
import { checkSaveInput, type SaveInput, withAgentContext } from '../checkpoints.js';
import { OPERATOR } from '../config.js';
import { DreamError, invalidInput } from '../errors.js';
import { emit } from '../output.js';
import type { Workspace } from '../workspace.js';
import { withWorkspace } from './common.js';

function progressArg(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0 || n > 1)
    throw new InvalidArgumentError(`--progress is a number from 0 to 1, got ${JSON.stringify(value)}`);
  return n;
}

function dataArg(value: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    throw new InvalidArgumentError('--data must be valid JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new InvalidArgumentError('--data must be a JSON object');
  return parsed as Record<string, unknown>;
}

/** Whose checkpoint: the driven program's own agent, or the one the operator names. */
function whose(named: string | undefined): string {
  const self = process.env.DREAMOS_AGENT_ID;
  if (self && self !== OPERATOR) {
    if (named !== undefined && named !== self)
      throw invalidInput(
        `DREAMOS_AGENT_ID is ${self}: a driven program saves its own agent's checkpoints, not ${named}'s (a guard against mistakes, not an access control; see docs/security.md)`,
      );
    return self;
  }
  if (named === undefined)
    throw new DreamError('E_USAGE', 'name the agent whose checkpoint this is: --agent ID');
  if (named === OPERATOR) throw invalidInput('the operator has no checkpoints of its own: name an agent');
  return named;
}

export async function saveCheckpoint(ws: Workspace, agentId: string, input: SaveInput) {
  const agent = ws.agent(agentId);
  checkSaveInput(input);
  if (input.task !== null) ws.getTask(input.task);
  const full = await withAgentContext(ws, agent, input);
  const saved = await ws.saveCheckpoint(agentId, full);
  // As recorded (the journal stamps `rev`).
  return ws.view.checkpoints(agentId).find((c) => c.id === saved.id) ?? saved;
}

export function registerCheckpointSave(checkpoint: Command): void {
  checkpoint
    .command('save')
    .description(
      'save a checkpoint; a driven program is its agent on its task (DREAMOS_AGENT_ID, DREAMOS_TASK_ID)',
    )
    .option('--agent <id>', 'whose checkpoint (default: DREAMOS_AGENT_ID; the operator must name one)')
    .option('--task <id>', 'the task it belongs to (default: DREAMOS_TASK_ID)')
    .option('--step <text>', 'where the work is')
    .option('--progress <0..1>', 'how far the task is, from 0 to 1', progressArg)
    .option('--summary <text>', 'what is done and what remains, to resume from')
    .option('--session-id <id>', "the driven program's own session id, to resume it")
    .option('--data <json>', 'a JSON object kept with the checkpoint', dataArg)
    .action(async (o, command: Command) => {
      await withWorkspace(command, async (ws, options) => {
        const agentId = whose(o.agent);
        const task = o.task ?? process.env.DREAMOS_TASK_ID ?? null;
        const saved = await saveCheckpoint(ws, agentId, {
          task,
          ...(o.step !== undefined ? { step: o.step } : {}),
          ...(o.progress !== undefined ? { progress: o.progress } : {}),
          ...(o.summary !== undefined ? { summary: o.summary } : {}),
          ...(o.sessionId !== undefined ? { sessionId: o.sessionId } : {}),
          ...(o.data !== undefined ? { data: o.data } : {}),
        });
        emit(
          options,
          saved,
          () => `${saved.id} saved for ${saved.agent}${saved.task ? ` (${saved.task})` : ''}`,
        );
      });
    });
}
