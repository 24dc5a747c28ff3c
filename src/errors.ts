/** The error types live in `state/`, the lowest layer; the rest of the engine imports them from here. */
export * from '../state/errors.js';
