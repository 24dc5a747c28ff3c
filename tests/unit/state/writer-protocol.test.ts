/**
 * The shared writer's wire protocol (state/writer/protocol.ts): what a peer sends is validated
 * before anything trusts it. An error code this version does not know has no exit code, so a reply
 * carrying one is rejected, never turned into an error that would exit 0.
 */

import type net from 'node:net';
import { describe, expect, it } from 'vitest';
import { DreamError, ERROR_CODES, ExitCode, isRetryable } from '../../../state/errors.js';
import { errorFrom, errorJson, parseLine, Reply, send, sendAnswer } from '../../../state/writer/protocol.js';

const err = (code: string) =>
  JSON.stringify({ t: 'err', id: '1-abcd-1', error: { code, message: 'refused', details: null } });

describe('the shared writer protocol', () => {
  it('rejects a reply whose error code this version does not know', () => {
    expect(parseLine(Reply, err('E_FROM_A_LATER_VERSION'))).toBeNull();
    expect(parseLine(Reply, err(''))).toBeNull();
  });

  it('maps every known error code to a non-zero exit code', () => {
    for (const code of ERROR_CODES) {
      const reply = parseLine(Reply, err(code));
      expect(reply).toMatchObject({ t: 'err', error: { code } });
      const error = errorFrom((reply as Extract<Reply, { t: 'err' }>).error);
      expect(error).toBeInstanceOf(DreamError);
      expect(Object.values(ExitCode)).toContain(error.exitCode);
      expect(error.exitCode).not.toBe(ExitCode.ok);
    }
  });

  it('sends a system error as E_IO (retryable) and any other error as E_INTERNAL (a bug, not retried)', () => {
    const disk = errorJson(Object.assign(new Error('no space left on device'), { code: 'ENOSPC' }));
    expect(disk).toEqual({ code: 'E_IO', message: 'no space left on device', details: null });
    expect(isRetryable(errorFrom(disk))).toBe(true);
    const bug = errorJson(new TypeError("Cannot read properties of undefined (reading 'id')"));
    expect(bug.code).toBe('E_INTERNAL');
    expect(isRetryable(errorFrom(bug))).toBe(false);
    for (const json of [disk, bug])
      expect(parseLine(Reply, JSON.stringify({ t: 'err', id: 'x', error: json }))).not.toBeNull();
  });

  it('writes an answer with entries as the same line as the plain message would be', () => {
    const written: string[] = [];
    const socket = {
      destroyed: false,
      writable: true,
      write: (data: string | Buffer) => written.push(data.toString()),
    } as unknown as net.Socket;
    const lines = ['{"seq":41,"note":"quotes \\" and \\\\ and \\u001b"}', '{"seq":42,"title":"é ✓"}'];
    const value = { id: 'T-00042', title: 'a "quoted" title' };
    send(socket, { t: 'ok', id: '1-abcd-1', value, entries: lines });
    sendAnswer(
      socket,
      '1-abcd-1',
      value,
      lines.map((line) => Buffer.from(JSON.stringify(line))),
    );
    expect(written[1]).toBe(written[0]);
    expect(parseLine(Reply, written[1]!.trimEnd())).toEqual({
      t: 'ok',
      id: '1-abcd-1',
      value,
      entries: lines,
    });
  });
});
