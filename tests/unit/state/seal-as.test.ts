/**
 * A change sealed once with a placeholder number (state/journal-reader.ts `sealAs`), then as any
 * number, is the line `sealEntry` seals for that number: the PostgreSQL backend sends the first and
 * the server fills in the number (state/pg/side-by-side.ts).
 */
import { expect, it } from 'vitest';
import { type Change, entryBody } from '../../../state/change.js';
import { decodeLine, sealAs, sealEntry } from '../../../state/journal-reader.js';
import { ZERO_COUNTERS } from '../../../state/state-index.js';
import { task as fixture } from '../../helpers/drift-fixtures.js';

const PLACEHOLDER = 4_123_456_789_012_345;
const now = new Date('2026-12-07T12:00:00.000Z');

const task = (id: string, title: string) => fixture(id, { title });

const change = (...tasks: ReturnType<typeof fixture>[]): Change => ({ op: 'claim', by: 'agent-1', tasks });

it('seals a change as any number exactly as sealing it as that number would', () => {
  const placeholder = sealEntry(
    entryBody(change(task('T-0001A', 'one'), task('T-0002B', 'two')), PLACEHOLDER, now, ZERO_COUNTERS),
    PLACEHOLDER,
  );
  const sealed = sealAs(placeholder.line, PLACEHOLDER, 3);
  expect(sealed).not.toBeNull();
  for (const seq of [1, 9, 10, 999, 1000, 123_456_789]) {
    const direct = sealEntry(
      entryBody(change(task('T-0001A', 'one'), task('T-0002B', 'two')), seq, now, ZERO_COUNTERS),
      seq,
    );
    expect(sealed!.line(seq)).toBe(direct.line);
    expect(
      `${sealed!.template.replaceAll(String(PLACEHOLDER), String(seq))},"crc":"${sealed!.crc(seq)}"}`,
    ).toBe(direct.line);
    const decoded = decodeLine(sealed!.line(seq));
    expect('entry' in decoded && decoded.entry.seq).toBe(seq);
  }
});

it('refuses a line whose text holds the placeholder digits anywhere else', () => {
  const odd = task('T-0001A', `holds ${PLACEHOLDER} in its title`);
  const placeholder = sealEntry(entryBody(change(odd), PLACEHOLDER, now, ZERO_COUNTERS), PLACEHOLDER);
  expect(sealAs(placeholder.line, PLACEHOLDER, 2)).toBeNull();
});
