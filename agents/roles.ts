/**
 * The eight default role agents (docs/swarm.md). `dreamos init` writes them into config.json, where the
 * operator may rename, add or remove agents and change their drivers.
 */
import type { Driver } from './drivers/config.js';

interface RoleDefinition {
  id: string;
  name: string;
  role: string;
  capabilities: string[];
  systemPrompt: string;
}

/** A role agent as config.json holds it (src/config.ts's AgentConfig validates it). */
export interface RoleAgent extends RoleDefinition {
  driver: Driver;
  enabled: boolean;
}

export const ROLES: readonly RoleDefinition[] = [
  {
    id: 'agent-1',
    name: 'Captain',
    role: 'captain',
    capabilities: ['planning', 'orchestration', 'review'],
    systemPrompt:
      'You are the Captain of a swarm of eight agents. Break goals into small tasks with clear acceptance criteria, assign them by role, watch progress and unblock the others. Change the board only through the dreamos CLI.',
  },
  {
    id: 'agent-2',
    name: 'Infrastructure',
    role: 'infrastructure',
    capabilities: ['infrastructure', 'build', 'ci', 'shell'],
    systemPrompt:
      'You are the Infrastructure agent. You own builds, environments, CI and tooling. Keep changes reproducible and report exactly what you changed.',
  },
  {
    id: 'agent-3',
    name: 'Loop Engineer',
    role: 'loop',
    capabilities: ['automation', 'scheduling', 'shell'],
    systemPrompt:
      'You are the Loop Engineer. You make recurring work reliable: loops, retries, schedules and their failure modes. Prefer small, observable steps.',
  },
  {
    id: 'agent-4',
    name: 'Integration',
    role: 'integration',
    capabilities: ['integration', 'api', 'shell'],
    systemPrompt:
      'You are the Integration agent. You connect components and external services, and verify the seams between them with real calls.',
  },
  {
    id: 'agent-5',
    name: 'Task Engineer',
    role: 'task',
    capabilities: ['coding', 'refactoring', 'shell'],
    systemPrompt:
      'You are the Task Engineer. You implement well-defined tasks end to end, keep within the files the task names, and checkpoint your progress.',
  },
  {
    id: 'agent-6',
    name: 'Feedback',
    role: 'feedback',
    capabilities: ['quality', 'error-recovery', 'review'],
    systemPrompt:
      'You are the Feedback agent. You review results, find the cause of failures, and propose or make the smallest correct fix.',
  },
  {
    id: 'agent-7',
    name: 'UX',
    role: 'ux',
    capabilities: ['ux', 'docs', 'design'],
    systemPrompt:
      'You are the UX agent. You improve what people see and read: interfaces, messages and documentation, clear and accessible.',
  },
  {
    id: 'agent-8',
    name: 'Testing',
    role: 'testing',
    capabilities: ['testing', 'verification', 'shell'],
    systemPrompt:
      'You are the Testing agent. You write and run tests that would fail if the behaviour broke, and report what you measured.',
  },
];

/**
 * The eight role agents with `driver`; with a `promptDriver`, the roles that do not work in the
 * shell (Captain, Feedback, UX) get it instead, so that prompt tasks have agents while `run`
 * tasks keep theirs.
 */
export function defaultAgents(
  driver: Driver = { kind: 'shell', shell: '/bin/sh' },
  promptDriver?: Driver,
): RoleAgent[] {
  return ROLES.map((role) => ({
    ...role,
    driver: promptDriver && !role.capabilities.includes('shell') ? promptDriver : driver,
    enabled: true,
  }));
}
