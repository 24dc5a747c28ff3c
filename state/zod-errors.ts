/**
 * How a validation failure reads in a message: the first few problems, each with where it is.
 * Shared by everything that validates input or stored files with zod, whatever keeps the state.
 */
import type { z } from 'zod';

/**
 * What a union's failure says: the issues of its one branch whose discriminator matched (no issue
 * about `kind`: a shell driver's misspelt field, not "not a plugin's kind"); else of its one branch
 * that is not a union itself (a kind that is no name says what a name is); else the union's own.
 */
function unionBranch(issue: z.core.$ZodIssue): z.core.$ZodIssue[] {
  if (issue.code !== 'invalid_union') return [issue];
  const pick = (keep: (branch: z.core.$ZodIssue[]) => boolean) => {
    const kept = issue.errors.filter(keep);
    return kept.length === 1 ? kept[0]! : null;
  };
  const branch =
    pick((b) => b.every((i) => i.path[0] !== 'kind')) ??
    pick((b) => b.every((i) => i.code !== 'invalid_union'));
  if (!branch) return [issue];
  return branch.flatMap(unionBranch).map((i) => ({ ...i, path: [...issue.path, ...i.path] }));
}

export function describeZodError(error: z.ZodError): string {
  return error.issues
    .flatMap(unionBranch)
    .slice(0, 3)
    .map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`)
    .join('; ');
}
