/**
 * A small reader for the IDX file format of the MNIST database
 * (LeCun, Cortes, Burges, http://yann.lecun.com/exdb/mnist/).
 *
 * Layout: magic = 0x00 0x00 <type> <ndims>, then ndims big-endian uint32
 * dimensions, then the values in row-major order. MNIST uses type 0x08
 * (unsigned byte) only, which is the only type accepted here. Every field is
 * checked (magic, number of dimensions, sizes, exact file length) before
 * any value is read; a malformed file raises {@link IdxFormatError}.
 */
import { FedveilError } from '../errors.js';

/** An IDX file is malformed (bad magic, dimensions or length). */
export class IdxFormatError extends FedveilError {
  constructor(message: string) {
    super('IDX_FORMAT', message);
  }
}

export interface IdxArray {
  readonly dims: readonly number[];
  /** Row-major unsigned bytes (a view into the input, not a copy). */
  readonly data: Uint8Array;
}

const TYPE_UBYTE = 0x08;

/**
 * Parse an unsigned-byte IDX file.
 * @param expectDims when given, the number of dimensions the file must have.
 */
export function parseIdx(bytes: Uint8Array, expectDims?: number): IdxArray {
  if (!(bytes instanceof Uint8Array)) throw new IdxFormatError('expected a Uint8Array');
  if (bytes.length < 4) throw new IdxFormatError(`file too short for an IDX header (${bytes.length} bytes)`);
  if (bytes[0] !== 0 || bytes[1] !== 0) throw new IdxFormatError('bad magic: first two bytes must be zero');
  if (bytes[2] !== TYPE_UBYTE) throw new IdxFormatError(`unsupported IDX type 0x${bytes[2]!.toString(16)} (only 0x08 unsigned byte)`);
  const ndims = bytes[3]!;
  if (ndims < 1) throw new IdxFormatError('IDX file declares zero dimensions');
  if (expectDims !== undefined && ndims !== expectDims) throw new IdxFormatError(`expected ${expectDims} dimensions, file has ${ndims}`);
  const header = 4 + 4 * ndims;
  if (bytes.length < header) throw new IdxFormatError(`file too short for ${ndims} dimensions`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims: number[] = [];
  let count = 1;
  for (let i = 0; i < ndims; i++) {
    const d = view.getUint32(4 + 4 * i, false);
    if (d === 0) throw new IdxFormatError(`dimension ${i} is zero`);
    dims.push(d);
    count *= d;
    if (!Number.isSafeInteger(count)) throw new IdxFormatError('declared size overflows');
  }
  if (bytes.length !== header + count) {
    throw new IdxFormatError(`declared ${dims.join('x')} = ${count} values, file holds ${bytes.length - header}`);
  }
  return Object.freeze({ dims: Object.freeze(dims), data: bytes.subarray(header) });
}
