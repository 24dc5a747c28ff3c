/**
 * The console's side of an attach (ui/attach.ts): connect to the agent's session for typing, hold
 * the open attach while App draws an empty frame, and say in the flash how it ended.
 */
import { useStdin, useStdout } from 'ink';
import { useCallback, useEffect, useRef, useState } from 'react';
import { openSession, type SessionClient } from '../src/sessions.js';
import type { Workspace } from '../src/workspace.js';
import { type AttachEnd, detachKey, startAttach } from './attach.js';
import { errorText } from './effects.js';
import type { FlashLevel } from './model.js';

export interface AttachState {
  /** An attach is open: App draws nothing and ignores its keys. */
  active: boolean;
  /** The same, for key handlers (never a stale closure). */
  activeRef: { readonly current: boolean };
  /** Attach to `agentId`'s live session (a failure is told in the flash). */
  open(agentId: string): void;
}

function endText(agentId: string, keyName: string, end: AttachEnd): string {
  if (end.how === 'detached') return `detached from ${agentId} (${keyName}); it goes on working`;
  if (end.how === 'ended')
    return `${agentId}'s program ended${end.signal ? ` (${end.signal})` : ` (exit code ${end.exitCode ?? '?'})`}`;
  return `${agentId}'s session closed`;
}

export function useAttach(ws: Workspace, flash: (level: FlashLevel, text: string) => void): AttachState {
  const { stdin } = useStdin();
  const { stdout } = useStdout();
  const [session, setSession] = useState<{ agentId: string; client: SessionClient } | null>(null);
  const activeRef = useRef(false);
  const opening = useRef(false);
  const flashRef = useRef(flash);
  flashRef.current = flash;

  const open = useCallback(
    (agentId: string) => {
      if (activeRef.current || opening.current) return;
      opening.current = true;
      openSession(ws.home, agentId, { mode: 'write', stream: 'raw' }).then(
        (client) => {
          opening.current = false;
          activeRef.current = true;
          setSession({ agentId, client });
        },
        (error) => {
          opening.current = false;
          flashRef.current('error', errorText(error));
        },
      );
    },
    [ws],
  );

  useEffect(() => {
    if (!session) return;
    const key = detachKey();
    const attach = startAttach(session.client, { stdin, stdout }, key, (end) => {
      activeRef.current = false;
      setSession(null);
      flashRef.current(end.how === 'detached' ? 'info' : 'warning', endText(session.agentId, key.name, end));
    });
    return () => {
      activeRef.current = false;
      attach.stop();
    };
  }, [session, stdin, stdout]);

  return { active: session !== null, activeRef, open };
}
