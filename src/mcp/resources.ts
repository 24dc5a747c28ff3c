/**
 * The board as MCP resources, for clients that show or attach them: the summary `dreamos status`
 * prints, and each task by id.
 */
import { type McpServer, ResourceTemplate } from '@modelcontextprotocol/sdk/server/mcp.js';
import { ErrorCode, type ReadResourceResult } from '@modelcontextprotocol/sdk/types.js';
import { DreamError } from '../errors.js';
import { oneLine } from '../sanitize.js';
import type { Workspace } from '../workspace.js';

function json(uri: URL, data: unknown): ReadResourceResult {
  return { contents: [{ uri: uri.href, mimeType: 'application/json', text: JSON.stringify(data) }] };
}

/**
 * A refusal of the board as a protocol error: its code and message, never a stack. The SDK sends a
 * thrown error's numeric `code`, `message` and `data` as they are (an McpError's message would carry
 * the protocol's prefix twice once the client adds its own).
 */
function refused(error: unknown): never {
  if (error instanceof DreamError)
    throw Object.assign(new Error(`${error.code}: ${oneLine(error.message, 1000)}`), {
      code: ErrorCode.InvalidParams,
      data: { code: error.code },
    });
  throw error;
}

export function registerResources(server: McpServer, ws: Workspace): void {
  server.registerResource(
    'board',
    'dreamos://board',
    {
      title: 'Task board',
      description: 'How many tasks are in each stage, the working ones, open alerts',
      mimeType: 'application/json',
    },
    (uri) => json(uri, ws.summary()),
  );
  server.registerResource(
    'task',
    new ResourceTemplate('dreamos://tasks/{id}', { list: undefined }),
    { title: 'A task', description: 'One task with its history', mimeType: 'application/json' },
    (uri, { id }) => {
      try {
        return json(uri, ws.getTask(String(id)));
      } catch (error) {
        return refused(error);
      }
    },
  );
}
