/**
 * How a validation failure reads in a message: the first few problems, each with where it is.
 * Shared by everything that validates input or stored files with zod, whatever keeps the state.
 */
import type { z } from 'zod';

/**
 * The issues of the union's one branch whose discriminator matched (the branch with no issue about
 * `kind`: a shell driver with a misspelt field, not "not a plugin's kind"), else the union's own.
 */
function unionBranch(issue: z.core.$ZodIssue): z.core.$ZodIssue[] {
  if (issue.code !== 'invalid_union') return [issue];
  const matched = issue.errors.filter((branch) => branch.every((i) => i.path[0] !== 'kind'));
  if (matched.length !== 1) return [issue];
  return matched[0]!.flatMap(unionBranch).map((i) => ({ ...i, path: [...issue.path, ...i.path] }));
}

export function describeZodError(error: z.ZodError): string {
  return error.issues
    .flatMap(unionBranch)
    .slice(0, 3)
    .map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`)
    .join('; ');
}
