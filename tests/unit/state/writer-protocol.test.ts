/**
 * The shared writer's wire protocol (state/writer/protocol.ts): what a peer sends is validated
 * before anything trusts it. An error code this version does not know has no exit code, so a reply
 * carrying one is rejected, never turned into an error that would exit 0.
 */
import { describe, expect, it } from 'vitest';
import { DreamError, ERROR_CODES, ExitCode, isRetryable } from '../../../state/errors.js';
import { errorFrom, errorJson, parseLine, Reply } from '../../../state/writer/protocol.js';

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
});
