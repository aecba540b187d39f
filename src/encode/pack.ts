/**
 * Bit packing of b-bit values (1 <= b <= 32) into bytes and back: the wire
 * format of masked vectors in Z / 2^b Z (on the wire, vectors are
 * bit-packed to b bits), so a vector of d values costs exactly
 * ceil(d * b / 8) bytes (the communication figure of Bonawitz et al.,
 * CCS 2017, assumes this).
 *
 * Format (little-endian bit order): value i occupies stream bits
 * [i*b, (i+1)*b), least significant bit first, and stream bit k is bit
 * (k mod 8) of byte floor(k / 8). For b = 8, 16, 32 this is exactly the
 * little-endian Uint8/Uint16/Uint32 array layout. Unused high bits of the
 * last byte are zero; unpackBits rejects a non-zero padding so that every
 * vector has exactly one encoding (I3: decoded data is validated).
 *
 * Speed: b = 8, 16, 32 are typed-array copies. Other widths run a generated,
 * fully unrolled kernel per width (src/encode/pack-kernels.ts: 32 values
 * <-> b words per iteration, no branches), and a word-at-a-time loop for the
 * last n mod 32 values (a 64-bit window kept in two 32-bit halves: the
 * partially filled output word and the value's spill-over bits).
 */
import { InvalidArgument } from '../errors.js';
import { abits, aint, auint32s } from '../util/assert.js';
import { PACK_KERNELS, UNPACK_KERNELS } from './pack-kernels.js';

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** Bytes needed for `count` values of `bits` bits: ceil(count * bits / 8). */
export function packedLength(count: number, bits: number): number {
  aint('packedLength: count', count, 0);
  abits('packedLength: bits', bits);
  return Math.ceil((count * bits) / 8);
}

/** Throw naming the first value >= 2^bits (called only once one is known to exist). */
function throwTooWide(values: Uint32Array, bits: number): never {
  const limit = 2 ** bits;
  for (let i = 0; i < values.length; i++) {
    if (values[i]! >= limit) throw new InvalidArgument(`packBits: value ${i} is ${values[i]!} >= 2^${bits}`);
  }
  throw new InvalidArgument(`packBits: a value is >= 2^${bits}`);
}

/**
 * Pack `values` (each < 2^bits) into ceil(n * bits / 8) bytes.
 * @throws InvalidArgument for a non-Uint32Array, bits outside [1, 32] or a
 *   value >= 2^bits (named by index).
 */
export function packBits(values: Uint32Array, bits: number): Uint8Array {
  auint32s('packBits: values', values);
  abits('packBits: bits', bits);
  const n = values.length;
  const length = packedLength(n, bits);
  const out = new Uint8Array(length);
  if (LITTLE_ENDIAN && bits === 32) {
    out.set(new Uint8Array(values.buffer, values.byteOffset, 4 * n));
    return out;
  }
  if (LITTLE_ENDIAN && bits !== 8 && bits !== 16) {
    // The kernels OR the values as they pack: validated without a second pass.
    const or = packWords(values, bits, out);
    if (or >>> bits !== 0) throwTooWide(values, bits);
    return out;
  }
  if (bits < 32) {
    // One OR-reduction validates every value in a branch-free pass.
    let or = 0;
    for (let i = 0; i < n; i++) or |= values[i]!;
    if (or >>> bits !== 0) throwTooWide(values, bits);
  }
  if (!LITTLE_ENDIAN) packGeneric(values, bits, out);
  else if (bits === 16) new Uint16Array(out.buffer, 0, n).set(values);
  else out.set(values); // bits === 8
  return out;
}

/**
 * General b < 32 on a little-endian machine: whole 32-bit words, then a byte
 * tail. Returns the OR of all values (the caller checks it is < 2^b).
 */
function packWords(values: Uint32Array, bits: number, out: Uint8Array): number {
  const n = values.length;
  const groups = n >>> 5;
  const kernel = PACK_KERNELS[bits];
  let or = 0;
  if (kernel !== undefined && groups > 0) or = kernel(values, new Int32Array(out.buffer, 0, groups * bits), groups);
  // Each group of 32 values ends on a word boundary: continue from there.
  const words = new Uint32Array(out.buffer, 0, out.length >>> 2);
  const start = kernel === undefined ? 0 : groups * 32;
  let acc = 0; // low bits of the output word being filled
  let fill = 0; // bits of acc in use, 0 <= fill < 32
  let w = (start * bits) >>> 5;
  for (let i = start; i < n; i++) {
    const v = values[i]!;
    or |= v;
    acc |= v << fill;
    fill += bits;
    if (fill >= 32) {
      words[w++] = acc;
      fill -= 32;
      // The top `fill` bits of v did not fit; 1 <= bits - fill <= 31.
      acc = fill === 0 ? 0 : v >>> (bits - fill);
    }
  }
  for (let k = 4 * w; k < out.length; k++) {
    out[k] = acc & 0xff;
    acc >>>= 8;
  }
  return or;
}

/** Portable byte-at-a-time packer (big-endian hosts; the tests' reference). */
export function packGeneric(values: Uint32Array, bits: number, out: Uint8Array): void {
  let bit = 0;
  for (let i = 0; i < values.length; i++) {
    let v = values[i]!;
    let left = bits;
    while (left > 0) {
      const byte = bit >>> 3;
      const off = bit & 7;
      const take = Math.min(8 - off, left);
      out[byte]! |= (v & ((1 << take) - 1)) << off;
      v >>>= take;
      bit += take;
      left -= take;
    }
  }
}

/**
 * Inverse of {@link packBits}: read `count` values of `bits` bits.
 * @param out optional destination of length `count` (a server unpacking one
 *   vector per client can reuse one buffer instead of allocating d words
 *   each time); a fresh array when omitted.
 * @returns `out` (or the fresh array).
 * @throws InvalidArgument for a non-Uint8Array, bits outside [1, 32], a count
 *   that is not a non-negative integer, `bytes.length !== ceil(count * bits / 8)`,
 *   an `out` that is not a Uint32Array of length count, or non-zero padding
 *   bits after the last value (then the contents of `out` are unspecified).
 */
export function unpackBits(bytes: Uint8Array, bits: number, count: number, out?: Uint32Array): Uint32Array {
  if (!(bytes instanceof Uint8Array)) throw new InvalidArgument('unpackBits: bytes must be a Uint8Array');
  abits('unpackBits: bits', bits);
  aint('unpackBits: count', count, 0);
  const length = Math.ceil((count * bits) / 8);
  if (bytes.length !== length) {
    throw new InvalidArgument(`unpackBits: ${count} values of ${bits} bits take ${length} bytes, got ${bytes.length}`);
  }
  if (out === undefined) out = new Uint32Array(count);
  else auint32s('unpackBits: out', out, count);
  if (!LITTLE_ENDIAN) {
    unpackGeneric(bytes, bits, out);
  } else if (bits === 32) {
    new Uint8Array(out.buffer, out.byteOffset, 4 * count).set(bytes);
  } else if (bits === 16) {
    const src = aligned(bytes, 2);
    out.set(new Uint16Array(src.buffer, src.byteOffset, count));
  } else if (bits === 8) {
    out.set(bytes);
  } else {
    unpackWords(bytes, bits, out);
  }
  return out;
}

/**
 * `bytes` itself when it can back a typed array of `unit`-byte elements
 * covering it, else an aligned copy zero-padded to a multiple of `unit`.
 */
function aligned(bytes: Uint8Array, unit: number): Uint8Array {
  if (bytes.byteOffset % unit === 0 && bytes.length % unit === 0) return bytes;
  const copy = new Uint8Array(Math.ceil(bytes.length / unit) * unit);
  copy.set(bytes);
  return copy;
}

function unpackWords(bytes: Uint8Array, bits: number, out: Uint32Array): void {
  const src = aligned(bytes, 4);
  const count = out.length;
  const groups = count >>> 5;
  const kernel = UNPACK_KERNELS[bits];
  if (kernel !== undefined && groups > 0) kernel(new Int32Array(src.buffer, src.byteOffset, groups * bits), out, groups);
  const words = new Uint32Array(src.buffer, src.byteOffset, src.length >>> 2);
  const start = kernel === undefined ? 0 : groups * 32;
  const mask = 2 ** bits - 1;
  let acc = 0; // unread bits of the current word, right-aligned
  let avail = 0; // number of them, 0 <= avail < 32
  let w = (start * bits) >>> 5;
  for (let i = start; i < count; i++) {
    if (avail >= bits) {
      out[i] = acc & mask;
      acc >>>= bits;
      avail -= bits;
    } else {
      const next = words[w++]!;
      out[i] = (acc | (next << avail)) & mask;
      // 1 <= bits - avail <= 31
      acc = next >>> (bits - avail);
      avail += 32 - bits;
    }
  }
  // I3 (decoded data is validated): the whole last word was read and its
  // padding landed in acc, so it must be zero. When the values end on a word
  // boundary there is no padding.
  if (acc !== 0) throw new InvalidArgument('unpackBits: non-zero padding bits after the last value');
}

/** Portable byte-at-a-time unpacker (big-endian hosts; the tests' reference). */
export function unpackGeneric(bytes: Uint8Array, bits: number, out: Uint32Array): void {
  let bit = 0;
  for (let i = 0; i < out.length; i++) {
    let v = 0;
    let got = 0;
    while (got < bits) {
      const off = bit & 7;
      const take = Math.min(8 - off, bits - got);
      v += ((bytes[bit >>> 3]! >>> off) & ((1 << take) - 1)) * 2 ** got;
      bit += take;
      got += take;
    }
    out[i] = v;
  }
  if (bit & 7 && bytes[bit >>> 3]! >>> (bit & 7) !== 0) throw new InvalidArgument('unpackBits: non-zero padding bits after the last value');
}
