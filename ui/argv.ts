/**
 * A command line typed in the `:` palette split into its words, as a shell would for quoting:
 * `add "Fix the login bug" --role testing` → [add, Fix the login bug, --role, testing]. Double and
 * single quotes group words; inside double quotes a backslash keeps the next character. No
 * variables, globs or escapes outside quotes: the palette is not a shell.
 */
export interface Split {
  args: string[];
  /** Where each word starts in the text (for completion of the word being typed). */
  starts: number[];
  error: string | null;
}

export function splitArgs(text: string): Split {
  const args: string[] = [];
  const starts: number[] = [];
  let word: string | null = null;
  const add = (ch: string) => {
    word = (word ?? '') + ch;
  };
  let quote: '"' | "'" | null = null;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quote) {
      if (ch === quote) quote = null;
      else if (quote === '"' && ch === '\\' && i + 1 < text.length) add(text[++i]!);
      else add(ch);
    } else if (/\s/.test(ch)) {
      if (word !== null) args.push(word);
      word = null;
    } else {
      if (word === null) {
        word = '';
        starts.push(i);
      }
      if (ch === '"' || ch === "'") quote = ch;
      else add(ch);
    }
  }
  if (word !== null) args.push(word);
  return { args, starts, error: quote ? `a quote ${quote} is not closed` : null };
}
