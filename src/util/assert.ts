/**
 * Tiny named assertions used at every public boundary (inputs are
 * validated at the boundary, and the inside then trusts them). Each throws InvalidArgument with
 * a message that names the argument and what was expected.
 */
import { InvalidArgument } from '../errors.js';

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (ArrayBuffer.isView(v)) return `${v.constructor.name}(${(v as { length?: number }).length ?? v.byteLength})`;
  if (typeof v === 'number') return String(v);
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? v.slice(0, 40) + '...' : v);
  return typeof v;
}

/** Assert a Uint8Array, optionally of an exact length. */
export function abytes(name: string, v: unknown, length?: number): asserts v is Uint8Array {
  if (!(v instanceof Uint8Array)) throw new InvalidArgument(`${name}: expected Uint8Array, got ${describe(v)}`);
  if (length !== undefined && v.length !== length) throw new InvalidArgument(`${name}: expected ${length} bytes, got ${v.length}`);
}

/** Assert an integer in [min, max] (safe integers only). */
export function aint(name: string, v: unknown, min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER): asserts v is number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw new InvalidArgument(`${name}: expected an integer, got ${describe(v)}`);
  if (v < min || v > max) throw new InvalidArgument(`${name}: expected an integer in [${min}, ${max}], got ${v}`);
}

/** Assert a finite number in [min, max]. */
export function anumber(name: string, v: unknown, min = -Infinity, max = Infinity): asserts v is number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new InvalidArgument(`${name}: expected a finite number, got ${describe(v)}`);
  if (v < min || v > max) throw new InvalidArgument(`${name}: expected a number in [${min}, ${max}], got ${v}`);
}

/** Assert a finite number > 0. */
export function apositive(name: string, v: unknown): asserts v is number {
  if (typeof v !== 'number' || !Number.isFinite(v) || !(v > 0)) throw new InvalidArgument(`${name}: expected a finite number > 0, got ${describe(v)}`);
}

/** Assert a Uint32Array, optionally of an exact length. */
export function auint32s(name: string, v: unknown, length?: number): asserts v is Uint32Array {
  if (!(v instanceof Uint32Array)) throw new InvalidArgument(`${name}: expected Uint32Array, got ${describe(v)}`);
  if (length !== undefined && v.length !== length) throw new InvalidArgument(`${name}: expected length ${length}, got ${v.length}`);
}

/** Assert a Float32Array (or Float64Array) whose every entry is finite. */
export function afinite(name: string, v: unknown, length?: number): asserts v is Float32Array | Float64Array {
  if (!(v instanceof Float32Array) && !(v instanceof Float64Array)) throw new InvalidArgument(`${name}: expected Float32Array, got ${describe(v)}`);
  if (length !== undefined && v.length !== length) throw new InvalidArgument(`${name}: expected length ${length}, got ${v.length}`);
  for (let i = 0; i < v.length; i++) {
    if (!Number.isFinite(v[i]!)) throw new InvalidArgument(`${name}: entry ${i} is ${String(v[i])}; updates must be finite`);
  }
}

/** Assert a modulus bit width 1 <= b <= 32. */
export function abits(name: string, v: unknown): asserts v is number {
  aint(name, v, 1, 32);
}

/** Assert one of a fixed set of string values. */
export function aoneOf<T extends string>(name: string, v: unknown, options: readonly T[]): asserts v is T {
  if (typeof v !== 'string' || !(options as readonly string[]).includes(v)) {
    throw new InvalidArgument(`${name}: expected one of ${options.join(', ')}, got ${describe(v)}`);
  }
}
