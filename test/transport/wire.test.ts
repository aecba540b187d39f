/**
 * Wire decoding (I3): arbitrary bytes and arbitrary msgpack values either
 * decode to a well-typed message or throw InvalidMessage - never another
 * error, never a half-validated object. fast-check with a fixed seed, so the
 * run is deterministic.
 */
import fc from 'fast-check';
import { pack } from 'msgpackr';
import { InvalidMessage } from '../../src/errors.js';
import { decodeClientMessage, decodeServerMessage, encodeMessage } from '../../src/transport/wire.js';
import { expectFedveilError } from '../expect-error.js';

function onlyInvalidMessage(f: () => unknown): boolean {
  try {
    f();
    return true;
  } catch (err) {
    return err instanceof InvalidMessage && err.code === 'INVALID_MESSAGE';
  }
}

describe('wire codec', () => {
  test('random bytes: decoders throw only InvalidMessage', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => onlyInvalidMessage(() => decodeClientMessage(bytes)) && onlyInvalidMessage(() => decodeServerMessage(bytes))), { seed: 7, numRuns: 2000 });
  });

  test('random msgpack objects with real type tags: decoders throw only InvalidMessage', () => {
    const value = fc.oneof(fc.integer(), fc.double(), fc.string(), fc.boolean(), fc.uint8Array({ maxLength: 70 }), fc.constant(null), fc.array(fc.integer(), { maxLength: 3 }));
    const tag = fc.constantFrom('auth', 'env', 'hello', 'welcome', 'round', 'frame', 'result', 'bye', 'error', 'x');
    const keys = fc.constantFrom('v', 'pk', 'sig', 'token', 'agent', 'seq', 'round', 'payload', 'nonce', 'session', 'name', 'index', 'config', 'task', 'ok', 'included', 'survivors', 'reason', 'code', 'message', 'identity');
    fc.assert(
      fc.property(tag, fc.dictionary(keys, value), (t, fields) => {
        const frame = pack({ ...fields, t });
        return onlyInvalidMessage(() => decodeClientMessage(frame)) && onlyInvalidMessage(() => decodeServerMessage(frame));
      }),
      { seed: 11, numRuns: 3000 },
    );
  });

  test('a valid envelope round-trips; wrong lengths are rejected', () => {
    const env = { t: 'env' as const, seq: 3, round: 2, payload: new Uint8Array([1, 2, 3]), sig: new Uint8Array(64).fill(9) };
    expect(decodeClientMessage(encodeMessage(env))).toEqual({ ...env, payload: new Uint8Array([1, 2, 3]), sig: new Uint8Array(64).fill(9) });
    expectFedveilError(() => decodeClientMessage(encodeMessage({ ...env, sig: new Uint8Array(63) })), InvalidMessage, 'INVALID_MESSAGE');
    expectFedveilError(() => decodeClientMessage(pack({ t: 'auth', v: 1, pk: new Uint8Array(31), sig: new Uint8Array(64) })), InvalidMessage, 'INVALID_MESSAGE');
    expectFedveilError(() => decodeClientMessage(pack({ ...env, seq: -1 })), InvalidMessage, 'INVALID_MESSAGE');
  });
});
