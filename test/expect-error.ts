/**
 * Typed-error assertions shared by the test suite: an error is identified by
 * its class and its stable `code`, never by its message text.
 */
import { FedveilError } from '../src/errors.js';

type ErrorClass<E extends FedveilError> = abstract new (...args: never[]) => E;

function check<E extends FedveilError>(threw: boolean, thrown: unknown, Class: ErrorClass<E>, code: string): E {
  if (!threw) throw new Error(`expected ${Class.name} (${code}), but nothing was thrown`);
  expect(thrown).toBeInstanceOf(Class);
  expect((thrown as FedveilError).code).toBe(code);
  return thrown as E;
}

/** What `fn()` throws (anything); fails the test when it throws nothing. */
export function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error('expected a throw, nothing was thrown');
}

/** `fn()` throws an instance of `Class` whose `code` is `code`; returns the error for further checks. */
export function expectFedveilError<E extends FedveilError>(fn: () => unknown, Class: ErrorClass<E>, code: string): E {
  let threw = false;
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    threw = true;
    thrown = e;
  }
  return check(threw, thrown, Class, code);
}

/** `p` (or the promise `p()` returns, or a synchronous throw from `p()`) rejects with `Class` and `code`. */
export async function expectFedveilRejection<E extends FedveilError>(p: Promise<unknown> | (() => Promise<unknown>), Class: ErrorClass<E>, code: string): Promise<E> {
  let threw = false;
  let thrown: unknown;
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    threw = true;
    thrown = e;
  }
  return check(threw, thrown, Class, code);
}
