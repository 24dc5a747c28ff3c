/** The text helpers live in `state/`, the lowest layer; the rest of the engine imports them from here. */
export * from '../state/text.js';
