/**
 * How a validation failure reads in a message: the first few problems, each with where it is.
 * Shared by everything that validates input or stored files with zod, whatever keeps the state.
 */
import type { z } from 'zod';

export function describeZodError(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`)
    .join('; ');
}
