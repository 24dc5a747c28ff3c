/**
 * `dreamos mcp`: the board as an MCP server over stdio, for the agent programs Dream.OS drives
 * (Claude Code, Codex CLI, Gemini CLI). Loaded by the command through a dynamic import, so that no
 * other command loads the SDK. stdout carries the protocol and nothing else; the server stops when
 * its client closes stdin (or sends SIGTERM, as clients do when stdin is not enough).
 */
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import pkg from '../../package.json' with { type: 'json' };
import { OPERATOR } from '../config.js';
import type { Workspace } from '../workspace.js';
import { registerResources } from './resources.js';
import { type McpIdentity, registerTools } from './tools.js';

/**
 * Who the server acts as: the workspace's actor (DREAMOS_AGENT_ID, already checked against the
 * agents when the workspace opened) on DREAMOS_TASK_ID. An empty variable counts as unset, as a
 * client that expands an unset variable passes it on empty.
 */
export function identityOf(ws: Workspace, env: NodeJS.ProcessEnv = process.env): McpIdentity {
  const task = env.DREAMOS_TASK_ID?.trim();
  return { agent: ws.actor === OPERATOR ? null : ws.actor, task: task ? task : null };
}

export function buildServer(ws: Workspace, me: McpIdentity): McpServer {
  const server = new McpServer(
    { name: 'dreamos', version: pkg.version },
    {
      instructions:
        'The Dream.OS task board. You act as the agent named by whoami, on its current task: report progress and save checkpoints as you go, read your mailbox, send mail to the operator or other agents, and propose sub-tasks (they wait for the operator to approve them).',
    },
  );
  registerTools(server, ws, me);
  registerResources(server, ws);
  return server;
}

/** What ends the server: its client closing stdin, or a signal to stop. */
const STOP_SIGNALS = ['SIGTERM', 'SIGINT', 'SIGHUP'] as const;

/**
 * Serve the board on stdin and stdout until the client closes stdin or asks the process to stop
 * with a signal; then the caller closes the workspace, as after any command.
 */
export async function serveMcp(ws: Workspace): Promise<void> {
  const server = buildServer(ws, identityOf(ws));
  let stop = () => {};
  const stopped = new Promise<void>((resolve) => {
    stop = resolve;
  });
  process.stdin.once('end', stop);
  process.stdin.once('close', stop);
  for (const signal of STOP_SIGNALS) process.once(signal, stop);
  try {
    await server.connect(new StdioServerTransport());
    await stopped;
    await server.close();
  } finally {
    process.stdin.off('end', stop);
    process.stdin.off('close', stop);
    for (const signal of STOP_SIGNALS) process.off(signal, stop);
  }
}
