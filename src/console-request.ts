/**
 * Whether a command line asks for the console: a bare `dreamos` or `dreamos console`, with the global
 * options and the console's own. The launcher (src/launcher.cts) reads it before loading any engine, to
 * send the console to its own bundle; the CLI reads it for what a bare `dreamos` does without a terminal.
 *
 * It accepts exactly the command lines commander accepts for these two, so that the launcher and the
 * CLI never disagree: anything else (`--help`, an unknown option, an argument) is the CLI's to answer.
 */
export interface ConsoleRequest {
  /** `dreamos` with global options only, as opposed to `dreamos console`. */
  bare: boolean;
  home?: string;
  json: boolean;
  attach: boolean;
  readOnly: boolean;
  /** `--serve [HOST:PORT]`: also serve the HTTP API; `true` for the default address. */
  serve?: string | true;
}

export function consoleRequest(argv: readonly string[]): ConsoleRequest | null {
  const request: ConsoleRequest = { bare: true, json: false, attach: false, readOnly: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--json') request.json = true;
    else if (arg === '--home' && i + 1 < argv.length) request.home = argv[++i];
    else if (arg.startsWith('--home=')) request.home = arg.slice('--home='.length);
    else if (arg === 'console' && request.bare) request.bare = false;
    else if (arg === '--attach' && !request.bare) request.attach = true;
    else if (arg === '--read-only' && !request.bare) request.readOnly = true;
    // An optional value, as commander reads one: the next word unless it is an option.
    else if (arg === '--serve' && !request.bare)
      request.serve = i + 1 < argv.length && !argv[i + 1]!.startsWith('-') ? argv[++i]! : true;
    else if (arg.startsWith('--serve=') && !request.bare) request.serve = arg.slice('--serve='.length);
    // `dreamos console --` ends the options; the console takes no arguments after it.
    else if (arg === '--' && !request.bare && i === argv.length - 1) break;
    else return null;
  }
  return request;
}
