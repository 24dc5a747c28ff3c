/**
 * What of a program's output may reach the operator's terminal during an attach. The program may
 * be hostile (it prints what a model or a web page made it print), so the sequences that ask the
 * terminal something (device attributes, cursor and status reports, mode and settings queries, the
 * window's size) or reach outside the screen (the window title, the clipboard through OSC 52,
 * device control strings, graphics) are taken out. The session's own headless terminal answers the
 * queries (./screen.ts), so the program still gets its answers, once. Everything that draws, and
 * the modes a full-screen program needs (mouse, bracketed paste, cursor keys), passes; they are
 * reset when the operator detaches. Sequences split across chunks are handled: the filter keeps
 * its state between `push` calls.
 */

const ESC = '\x1b';
const BEL = '\x07';
/** A control sequence longer than this is not one a terminal would act on: dropped. */
const MAX_SEQUENCE = 4096;

type Mode = 'ground' | 'escape' | 'escape-intermediate' | 'csi' | 'osc' | 'string' | 'string-escape';

/** Whether a control sequence (CSI) is kept: its parameters (with a `<=>?` prefix) and final byte. */
function keepCsi(body: string): boolean {
  const final = body.at(-1) ?? '';
  const prefix = /^[<=>?]/.test(body) ? body[0] : '';
  const intermediates = body.slice(0, -1).replace(/^[<=>?]?[0-9;:]*/, '');
  if (final === 'c' || final === 'n' || final === 't') return false; // DA, DSR, window operations and reports
  if (final === 'p' && intermediates.includes('$')) return false; // DECRQM
  if (final === 'w' && intermediates.includes('$')) return false; // DECRQPSR
  if (final === 'y' && intermediates.includes('*')) return false; // DECRQCRA
  if (final === 'q' && prefix === '>') return false; // XTVERSION
  if (final === 'u' && prefix === '?') return false; // kitty keyboard query
  if ((final === 'S' || final === 'm') && prefix === '?') return false; // XTSMGRAPHICS, XTQMODKEYS
  if (final === 'x' && intermediates === '' && prefix === '') return false; // DECREQTPARM
  return true;
}

/** OSC strings kept: hyperlinks only (titles, colours and their queries, the clipboard, notifications go). */
const keepOsc = (body: string) => body.startsWith('8;');

export class TerminalFilter {
  private mode: Mode = 'ground';
  private sequence = '';
  private keepString = false;

  /** The part of `chunk` that may reach the operator's terminal. */
  push(chunk: string): string {
    let out = '';
    let from = 0;
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk[i]!;
      const code = c.charCodeAt(0);
      if (this.mode === 'ground') {
        if (c !== ESC && (code < 0x80 || code > 0x9f)) continue;
        out += chunk.slice(from, i);
        from = i + 1;
        if (c === ESC) this.enter('escape');
        else this.c1(c);
        continue;
      }
      from = i + 1;
      out += this.step(c, code);
    }
    if (this.mode === 'ground') out += chunk.slice(from);
    return out;
  }

  private enter(mode: Mode, sequence = ''): void {
    this.mode = mode;
    this.sequence = sequence;
  }

  /** An 8-bit control (U+0080–U+009F): the introducers become their 7-bit forms, the rest go. */
  private c1(c: string): void {
    if (c === '\x9b') this.enter('csi');
    else if (c === '\x9d') this.enter('osc');
    else if (c === '\x90' || c === '\x98' || c === '\x9e' || c === '\x9f') this.enter('string');
  }

  /** One character inside a sequence; what to output (a sequence, once complete and kept). */
  private step(c: string, code: number): string {
    if (this.sequence.length > MAX_SEQUENCE && this.mode !== 'string-escape') {
      // Too long to be real: dropped, and whatever follows is read as text again at its end.
      if (this.mode === 'csi' && code >= 0x40 && code <= 0x7e) this.enter('ground');
      if ((this.mode === 'osc' || this.mode === 'string') && c === BEL) this.enter('ground');
      if (c === ESC && this.mode !== 'csi') {
        this.keepString = false;
        this.mode = 'string-escape';
      }
      return '';
    }
    switch (this.mode) {
      case 'escape':
        if (c === '[') this.enter('csi');
        else if (c === ']') this.enter('osc');
        else if (c === 'P' || c === '_' || c === '^' || c === 'X') this.enter('string');
        else if (code >= 0x20 && code <= 0x2f) this.enter('escape-intermediate', c);
        else if (c === ESC) this.enter('escape');
        else {
          this.enter('ground');
          return c === 'Z' ? '' : `${ESC}${c}`; // ESC Z asks for the device attributes
        }
        return '';
      case 'escape-intermediate': {
        if (code >= 0x20 && code <= 0x2f) {
          this.sequence += c;
          return '';
        }
        const intermediates = this.sequence;
        this.enter('ground');
        return `${ESC}${intermediates}${c}`;
      }
      case 'csi':
        this.sequence += c;
        if (code < 0x40 || code > 0x7e) return '';
        this.enter('ground', this.sequence);
        return keepCsi(this.sequence) ? `${ESC}[${this.sequence}` : '';
      case 'osc':
      case 'string': {
        if (c === BEL) return this.endString();
        if (c === ESC) {
          this.keepString = this.mode === 'osc' && keepOsc(this.sequence);
          this.mode = 'string-escape';
          return '';
        }
        // Only the length of a dropped string matters.
        this.sequence += this.mode === 'osc' ? c : '.';
        return '';
      }
      case 'string-escape': {
        const keep = this.keepString && c === '\\';
        const body = this.sequence;
        this.keepString = false;
        if (c !== '\\') {
          // An ESC that does not end the string starts a new sequence: the string is dropped.
          this.enter('escape');
          return this.step(c, code);
        }
        this.enter('ground');
        return keep ? `${ESC}]${body}${ESC}\\` : '';
      }
      default:
        return '';
    }
  }

  private endString(): string {
    const kept = this.mode === 'osc' && keepOsc(this.sequence);
    const body = this.sequence;
    this.enter('ground');
    return kept ? `${ESC}]${body}${BEL}` : '';
  }
}

/**
 * What the operator's terminal gets when an attach ends: the modes a program may have set are
 * reset (mouse reporting, focus events, bracketed paste, application cursor keys and keypad, the
 * kitty keyboard protocol, modifyOtherKeys, the scroll region, the cursor's shape and visibility),
 * then the screen the operator had before the attach comes back.
 */
export const DETACH_RESET = [
  '\x1b[?1000l\x1b[?1002l\x1b[?1003l\x1b[?1005l\x1b[?1006l\x1b[?1015l\x1b[?1016l', // mouse
  '\x1b[?1004l\x1b[?2004l', // focus events, bracketed paste
  '\x1b[?1l\x1b>', // normal cursor keys and keypad
  '\x1b[=0;1u\x1b[<999u', // kitty keyboard protocol: no flags, the stack emptied
  '\x1b[>4m', // modifyOtherKeys off
  '\x1b[0m\x1b[r\x1b[?7h\x1b[?6l\x1b[ q\x1b[?25h', // attributes, scroll region, wrap, origin, cursor
  '\x1b[?1049l', // back to the operator's screen
].join('');
