/**
 * `dreamos mcp`: the board as an MCP server on stdin and stdout, for an agent program to start
 * (docs/mcp.md). The SDK is loaded here only, through a dynamic import of src/mcp/.
 */
import type { Command } from 'commander';
import { withWorkspace } from './common.js';

export function registerMcp(program: Command): void {
  program
    .command('mcp')
    .description(
      'serve the board to an agent program over MCP on stdin/stdout, as DREAMOS_AGENT_ID on DREAMOS_TASK_ID (until stdin closes)',
    )
    .action(async (_o, command: Command) => {
      await withWorkspace(command, async (ws) => {
        const { serveMcp } = await import('../mcp/server.js');
        await serveMcp(ws);
      });
    });
}
