// Shared assertions for the encode tests.
import { InvalidArgument } from '../../src/errors.js';

/** `fn` throws InvalidArgument (code INVALID_ARGUMENT), optionally with a message matching `mentions`. */
export function expectInvalid(fn: () => unknown, mentions?: RegExp): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(InvalidArgument);
  expect((caught as InvalidArgument).code).toBe('INVALID_ARGUMENT');
  if (mentions) expect((caught as Error).message).toMatch(mentions);
}
