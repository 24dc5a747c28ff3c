/**
 * Semantic colour tokens. Components ask for `theme.status.error`, never for "red". With NO_COLOR set
 * (https://no-color.org: present and not empty) every token is undefined and only bold, dim and
 * inverse remain; meaning is always carried by a word or a symbol too, never by colour alone.
 */
import chalk from 'chalk';
import { createContext, useContext } from 'react';
import type { AGENT_STATUSES, Status } from '../state/schemas.js';

type Colour = string | undefined;
type AgentStatus = (typeof AGENT_STATUSES)[number];

export interface Theme {
  muted: Colour;
  accent: Colour;
  border: Colour;
  focusBorder: Colour;
  status: { info: Colour; ok: Colour; warning: Colour; error: Colour };
  stage: Record<Status, Colour>;
  agent: Record<AgentStatus, Colour>;
  simulated: Colour;
}

export const colourTheme: Theme = {
  muted: 'gray',
  accent: 'cyan',
  border: 'gray',
  focusBorder: 'cyan',
  status: { info: 'cyan', ok: 'green', warning: 'yellow', error: 'red' },
  stage: {
    backlog: 'gray',
    ready: 'blue',
    working: 'yellow',
    review: 'cyan',
    done: 'green',
    failed: 'red',
    cancelled: 'magenta',
  },
  agent: { idle: 'gray', working: 'green', paused: 'yellow', stale: 'red', stopped: 'gray' },
  simulated: 'magenta',
};

export const noColourTheme: Theme = {
  muted: undefined,
  accent: undefined,
  border: undefined,
  focusBorder: undefined,
  status: { info: undefined, ok: undefined, warning: undefined, error: undefined },
  stage: {
    backlog: undefined,
    ready: undefined,
    working: undefined,
    review: undefined,
    done: undefined,
    failed: undefined,
    cancelled: undefined,
  },
  agent: { idle: undefined, working: undefined, paused: undefined, stale: undefined, stopped: undefined },
  simulated: undefined,
};

export function themeFor(env: NodeJS.ProcessEnv = process.env): Theme {
  return env.NO_COLOR !== undefined && env.NO_COLOR !== '' ? noColourTheme : colourTheme;
}

export const ThemeContext = createContext<Theme>(colourTheme);
export const useTheme = () => useContext(ThemeContext);

/** Symbols that carry the meaning colour would (and survive NO_COLOR). */
export const AGENT_GLYPH: Record<AgentStatus, string> = {
  idle: '○',
  working: '●',
  paused: '‖',
  stale: '!',
  stopped: '■',
};
export const SEVERITY_GLYPH = { info: 'i', warning: '!', critical: '!!' } as const;

type Paint = (text: string) => string;

/** Colour a string with a theme token, for text drawn as one string (see Volatile); none without colour. */
export function paint(colour: Colour, text: string): string {
  if (!colour || !text) return text;
  const fn = (chalk as unknown as Record<string, Paint | undefined>)[colour];
  return typeof fn === 'function' ? fn(text) : text;
}
