/**
 * Drivers that can take prompt tasks, found on this machine (`dreamos init`) and checked
 * (`dreamos doctor`): agent CLIs on the PATH, an OpenAI API key, a local Ollama server. Probes of
 * an endpoint are bounded by a short timeout; nothing here reads or prints a key's value.
 */
import fs from 'node:fs';
import path from 'node:path';
import { type AgentConfig, type BuiltInDriver, isBuiltIn } from './config.js';

/**
 * Agent CLIs `init` looks for, in order of preference, with the copy-paste argv of docs/drivers.md (`--`
 * before a positional prompt) and the provider keys each may authenticate with: driven programs
 * get no API key unless their driver passes it on (docs/decisions/secrets-in-driven-programs.md).
 */
export const AGENT_CLIS = [
  {
    name: 'claude',
    label: 'Claude Code',
    argv: ['claude', '-p', '--output-format', 'text', '--', '{prompt}'],
    passEnv: ['ANTHROPIC_API_KEY', 'ANTHROPIC_AUTH_TOKEN', 'CLAUDE_CODE_OAUTH_TOKEN'],
  },
  {
    name: 'codex',
    label: 'Codex CLI',
    argv: ['codex', 'exec', '--', '{prompt}'],
    passEnv: ['OPENAI_API_KEY'],
  },
  {
    name: 'gemini',
    label: 'Gemini CLI',
    argv: ['gemini', '--prompt={prompt}'],
    passEnv: ['GEMINI_API_KEY', 'GOOGLE_API_KEY'],
  },
  {
    name: 'aider',
    label: 'Aider',
    argv: ['aider', '--yes-always', '--no-auto-commits', '--message={prompt}'],
    passEnv: ['OPENAI_API_KEY', 'ANTHROPIC_API_KEY'],
  },
] as const;

export const OPENAI_BASE_URL = 'https://api.openai.com/v1';
export const OLLAMA_DEFAULT_HOST = 'http://127.0.0.1:11434';
const PROBE_TIMEOUT_MS = 1500;

export interface FoundDriver {
  /** claude, codex, gemini, aider, openai or ollama. */
  name: string;
  label: string;
  /** Where it was found: a path, an environment variable, an endpoint. */
  where: string;
  driver: BuiltInDriver;
}

type Env = Record<string, string | undefined>;

/** The executable file `program` names: itself when it has a slash, else the first match on PATH. */
export function findProgram(program: string, env: Env = process.env): string | null {
  const executable = (file: string) => {
    try {
      fs.accessSync(file, fs.constants.X_OK);
      return fs.statSync(file).isFile();
    } catch {
      return false;
    }
  };
  if (program.includes('/')) return executable(program) ? program : null;
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const file = path.join(dir, program);
    if (executable(file)) return file;
  }
  return null;
}

/**
 * GET a URL with a short timeout. Any HTTP answer means the endpoint is reachable (a 401 or 404
 * too); the body is returned when it is JSON.
 */
export async function probe(
  url: string,
  timeoutMs = PROBE_TIMEOUT_MS,
): Promise<{ ok: true; status: number; json: unknown } | { ok: false; error: string }> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    const text = await response.text();
    let json: unknown = null;
    try {
      json = JSON.parse(text);
    } catch {
      // not JSON: reachable all the same
    }
    return { ok: true, status: response.status, json };
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code;
    const name = (error as Error).name;
    return {
      ok: false,
      error:
        name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : (cause ?? (error as Error).message),
    };
  }
}

/** Ollama's address: OLLAMA_HOST as Ollama itself reads it (host, host:port or a URL), else the default. */
export function ollamaHost(env: Env = process.env): string {
  const host = env.OLLAMA_HOST?.trim();
  if (!host) return OLLAMA_DEFAULT_HOST;
  const url = host.includes('://') ? host : `http://${host}`;
  return url.replace(/\/+$/, '');
}

/** Every driver that can take prompt tasks here, best first. */
export async function findDrivers(env: Env = process.env): Promise<FoundDriver[]> {
  const found: FoundDriver[] = [];
  for (const cli of AGENT_CLIS) {
    const where = findProgram(cli.name, env);
    if (where)
      found.push({
        name: cli.name,
        label: cli.label,
        where,
        driver: { kind: 'command', argv: [...cli.argv], env: {}, passEnv: [...cli.passEnv], worktree: false },
      });
  }
  if (env.OPENAI_API_KEY?.trim())
    found.push({
      name: 'openai',
      label: 'OpenAI API',
      where: 'OPENAI_API_KEY',
      driver: llm(OPENAI_BASE_URL, 'gpt-4o-mini', 'OPENAI_API_KEY'),
    });
  const host = ollamaHost(env);
  const tags = await probe(`${host}/api/tags`, 500);
  if (tags.ok && tags.status === 200) {
    const models = (tags.json as { models?: Array<{ name?: unknown }> } | null)?.models ?? [];
    const model = models.map((m) => m.name).find((n): n is string => typeof n === 'string') ?? 'llama3.1';
    found.push({ name: 'ollama', label: `Ollama (${model})`, where: host, driver: llm(`${host}/v1`, model) });
  }
  return found;
}

function llm(baseUrl: string, model: string, apiKeyEnv?: string): BuiltInDriver {
  return {
    kind: 'llm',
    baseUrl,
    model,
    ...(apiKeyEnv ? { apiKeyEnv } : {}),
    requestTimeoutSeconds: 120,
    contextBudgetTokens: 100_000,
  };
}

export interface DriverCheck {
  agent: string;
  kind: string;
  ok: boolean;
  message: string;
}

/** The driver kinds the workspace's plugins provide, or why a kind is not to be had. */
export type PluginKinds = (kind: string) => { ok: true; from: string } | { ok: false; why: string };

/**
 * Can each enabled agent's driver work here: its program on the PATH (shell, command), its API key
 * variable set and its endpoint answering (llm), a loaded plugin providing its kind. One probe per
 * endpoint.
 */
export async function checkDrivers(
  agents: readonly AgentConfig[],
  env: Env = process.env,
  pluginKinds?: PluginKinds,
): Promise<DriverCheck[]> {
  const probes = new Map<string, ReturnType<typeof probe>>();
  const checks: DriverCheck[] = [];
  for (const agent of agents) {
    if (!agent.enabled) continue;
    const d = agent.driver;
    const check = (ok: boolean, message: string) =>
      checks.push({ agent: agent.id, kind: d.kind, ok, message: `${agent.id} (${d.kind}): ${message}` });
    if (!isBuiltIn(d)) {
      const found = pluginKinds?.(d.kind) ?? { ok: false, why: 'no plugin is loaded' };
      check(found.ok, found.ok ? `provided by ${found.from}` : found.why);
    } else if (d.kind === 'sim') check(true, 'simulated work, nothing to check');
    else if (d.kind === 'shell' || d.kind === 'command' || d.kind === 'pty') {
      const program = d.kind === 'shell' ? d.shell : d.argv[0]!;
      const where = findProgram(program, env);
      check(
        where !== null,
        where
          ? `${program} is ${where}`
          : `${program} is not ${program.includes('/') ? 'an executable file' : 'on the PATH'}`,
      );
    } else {
      const problems: string[] = [];
      if (d.apiKeyEnv && !env[d.apiKeyEnv]?.trim()) problems.push(`${d.apiKeyEnv} is not set`);
      const url = `${d.baseUrl.replace(/\/+$/, '')}/models`;
      if (!probes.has(url)) probes.set(url, probe(url));
      const answer = await probes.get(url)!;
      if (!answer.ok) problems.push(`${d.baseUrl} does not answer (${answer.error})`);
      check(
        problems.length === 0,
        problems.length ? problems.join('; ') : `${d.baseUrl} answers, model ${d.model}`,
      );
    }
  }
  return checks;
}
