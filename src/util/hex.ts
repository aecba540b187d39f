/**
 * The one hex codec of fedveil: lower-case encoding, and decoding of an
 * even-length string of hex digits (either case). Callers that accept only
 * one spelling (the ledger: lower case only) check it before decoding.
 */
import { InvalidArgument } from '../errors.js';

const DIGITS: readonly string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
const HEX = /^(?:[0-9a-fA-F]{2})*$/;

/** Lower-case hex of `bytes`, two digits per byte. */
export function bytesToHex(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += DIGITS[b]!;
  return s;
}

/** True when `s` is an even-length string of hex digits (either case). */
export function isHex(s: unknown): s is string {
  return typeof s === 'string' && HEX.test(s);
}

/** The bytes of an even-length hex string (either case); InvalidArgument (naming `name`) otherwise. */
export function hexToBytes(s: string, name = 'hex'): Uint8Array {
  if (!isHex(s)) throw new InvalidArgument(`${name}: expected an even number of hex digits`);
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}
