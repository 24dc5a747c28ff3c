/** A code task's lines in its detail view: its branch and where review stands, and why it came back. */
import { Text } from 'ink';
import type { Task } from '../../state/schemas.js';
import { Field } from '../components/Field.js';
import { clean, clock } from '../text.js';
import { useTheme } from '../theme.js';

const STAGE_WORDS: Record<string, string> = {
  open: 'open: its next attempt works on this branch',
  waiting: 'waiting for review (d diff, A approve, X reject)',
  approved: 'approved, in the merge queue',
  merging: 'being merged',
  merged: 'merged',
  'pr-opened': 'pull request opened',
  'no-changes': 'no changes',
};

export function TaskCode({ task }: { task: Task }) {
  const theme = useTheme();
  const code = task.code;
  if (!code) return null;
  const last = code.last;
  return (
    <>
      <Field name="branch">
        {`${code.branch} → ${clean(code.base, 40)}  `}
        <Text color={theme.accent}>{STAGE_WORDS[code.stage] ?? code.stage}</Text>
        {code.merge ? ` (${code.merge.step})` : ''}
        {code.pr ? `  ${clean(code.pr, 120)}` : ''}
      </Field>
      {last ? (
        <Field name="came back">
          <Text color={last.reason === 'rejected' ? theme.status.warning : theme.status.error}>
            {last.reason.replace(/-/g, ' ')}
          </Text>
          {` ${clock(last.at)} by ${clean(last.by, 20)}: ${clean(last.text, 300)}`}
        </Field>
      ) : null}
    </>
  );
}
