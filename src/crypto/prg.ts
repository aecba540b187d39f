/**
 * The mask PRG of secure aggregation (Bonawitz et al. 2017, section 3: masks
 * `PRG(b_u)` and `PRG(s_uv)` expanded from 16-byte seeds).
 *
 * Definition (fixed so that every platform interoperates):
 *
 *     stream = AES-128-CTR(key, IV = 0^128)   (128-bit big-endian counter,
 *                                               NIST SP 800-38A) applied to zeros
 *     word_i = stream[4i .. 4i+3] read as a little-endian uint32
 *     mask_i = word_i & (2^b - 1)
 *
 * The modulus 2^b is a power of two, so masking the low b bits of a uniform
 * word gives a uniform element of Z_{2^b}: no bias, no rejection. The key is
 * the 16-byte output of deriveKey (I4); one key expands one vector per round
 * (the counter starts at 0 for every key), so a counter block never repeats
 * under a key as long as a vector has fewer than 2^66 words.
 *
 * Backends, all producing byte-identical streams (tests prove it):
 * - 'node': `node:crypto` createCipheriv('aes-128-ctr') (OpenSSL, AES-NI),
 *   fed 64 KiB of zeros per `update` - the chunk size at which OpenSSL is
 *   fastest here (larger chunks fall out of cache; about 3x slower at 4 MiB).
 *   A preallocated zero buffer is reused and the keystream is consumed chunk
 *   by chunk, so `prgAddInto` never allocates a whole vector;
 * - 'webcrypto': `crypto.subtle` AES-CTR (async; browsers). Each chunk is a
 *   separate call whose counter block is the chunk's first block index as a
 *   128-bit big-endian integer with `length: 128`, which is exactly the
 *   continuation of one long call;
 * - 'noble': `@noble/ciphers` AES-CTR (portable, pure JS, ~10x slower), with
 *   the same per-chunk counter arithmetic, writing into preallocated scratch.
 *
 * Sync functions use 'node' when available, else 'noble'; async functions
 * use 'node', else 'webcrypto', else 'noble' ({@link prgBackend}).
 */
import { ctr as nobleCtr } from '@noble/ciphers/aes.js';
import { InvalidArgument } from '../errors.js';
import { abits, abytes, aoneOf, auint32s } from '../util/assert.js';
import { nodeCrypto } from './native.js';

export type PrgBackend = 'node' | 'webcrypto' | 'noble';
export type PrgSyncBackend = 'node' | 'noble';

/** Key length of the mask PRG (AES-128). */
export const PRG_KEY_LENGTH = 16;
/** Bytes of keystream produced per backend call (64 KiB; a multiple of 16). */
export const PRG_CHUNK_BYTES = 65536;
const CHUNK_WORDS = PRG_CHUNK_BYTES / 4;
const BLOCKS_PER_CHUNK = PRG_CHUNK_BYTES / 16;
// WebCrypto calls cost a promise round trip each: use larger chunks there.
const WEBCRYPTO_CHUNK_BYTES = 1 << 20;

const LITTLE_ENDIAN = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1;
const ZERO_IV = new Uint8Array(16);

// Reused buffers (JS is single-threaded and the sync paths never yield
// between filling and consuming them).
let zeroChunk: Uint8Array | undefined;
let scratchBytes: Uint8Array | undefined;
let scratchWords: Int32Array | undefined;

function zeros(): Uint8Array {
  zeroChunk ??= new Uint8Array(PRG_CHUNK_BYTES);
  return zeroChunk;
}

function scratch(): { bytes: Uint8Array; words: Int32Array } {
  if (scratchBytes === undefined || scratchWords === undefined) {
    scratchWords = new Int32Array(CHUNK_WORDS);
    scratchBytes = new Uint8Array(scratchWords.buffer);
  }
  return { bytes: scratchBytes, words: scratchWords };
}

/** The 128-bit big-endian counter block for block index `block` (< 2^53). */
function counterBlock(block: number): Uint8Array<ArrayBuffer> {
  const iv = new Uint8Array(16);
  const view = new DataView(iv.buffer);
  view.setUint32(8, Math.floor(block / 4294967296), false);
  view.setUint32(12, block >>> 0, false);
  return iv;
}

/** The backend the async PRG functions use by default. */
export function prgBackend(): PrgBackend {
  if (nodeCrypto() !== undefined) return 'node';
  const subtle = (globalThis as { crypto?: Crypto }).crypto?.subtle;
  return subtle !== undefined ? 'webcrypto' : 'noble';
}

/** The backend the sync PRG functions use by default ('node' or 'noble'). */
export function prgSyncBackend(): PrgSyncBackend {
  return nodeCrypto() !== undefined ? 'node' : 'noble';
}

/**
 * What to do with each keystream chunk. Kernels are top-level functions over
 * Int32Array views (not closures): V8 then keeps every add in 32-bit integer
 * registers, about 5x faster than a closure over Uint32Arrays here.
 */
interface Sink {
  op: 'expand' | 'add' | 'sub';
  /** Int32Array view of the caller's vector (same bytes). */
  vec: Int32Array;
  /** 2^b - 1 as an int32 (-1 for b = 32). */
  mask: number;
}

function sinkFor(op: Sink['op'], vec: Uint32Array, bits: number): Sink {
  return { op, vec: new Int32Array(vec.buffer, vec.byteOffset, vec.length), mask: bits === 32 ? -1 : (1 << bits) - 1 };
}

function expandKernel(out: Int32Array, off: number, w: Int32Array, mask: number): void {
  if (mask === -1) {
    out.set(w, off);
    return;
  }
  const n = w.length;
  for (let i = 0, j = off; i < n; i++, j++) out[j] = w[i]! & mask;
}

// `(a + w) & mask` wraps mod 2^32 in int32 arithmetic, then keeps b bits:
// exactly (a + w) mod 2^b. Likewise for subtraction.
function addKernel(acc: Int32Array, off: number, w: Int32Array, mask: number): void {
  const n = w.length;
  for (let i = 0, j = off; i < n; i++, j++) acc[j] = (acc[j]! + w[i]!) & mask;
}

function subKernel(acc: Int32Array, off: number, w: Int32Array, mask: number): void {
  const n = w.length;
  for (let i = 0, j = off; i < n; i++, j++) acc[j] = (acc[j]! - w[i]!) & mask;
}

function consume(sink: Sink, w: Int32Array, off: number): void {
  if (sink.op === 'expand') expandKernel(sink.vec, off, w, sink.mask);
  else if (sink.op === 'add') addKernel(sink.vec, off, w, sink.mask);
  else subKernel(sink.vec, off, w, sink.mask);
}

/** Feed `sink` the first `sink.vec.length` keystream words, chunk by chunk. */
function streamSync(key: Uint8Array, backend: PrgSyncBackend, sink: Sink): void {
  const nWords = sink.vec.length;
  if (nWords === 0) return;
  const { bytes: sb, words: sw } = scratch();
  if (backend === 'node') {
    const nc = nodeCrypto();
    if (nc === undefined) throw new InvalidArgument("prg: backend 'node' needs node:crypto");
    const cipher = nc.createCipheriv('aes-128-ctr', key, ZERO_IV);
    const z = zeros();
    for (let off = 0; off < nWords; off += CHUNK_WORDS) {
      const n = Math.min(CHUNK_WORDS, nWords - off);
      const ks = cipher.update(n === CHUNK_WORDS ? z : z.subarray(0, 4 * n));
      consume(sink, wordsOf(ks, sw, n), off);
    }
    return;
  }
  const z = zeros();
  for (let off = 0, block = 0; off < nWords; off += CHUNK_WORDS, block += BLOCKS_PER_CHUNK) {
    const n = Math.min(CHUNK_WORDS, nWords - off);
    nobleCtr(key, counterBlock(block)).encrypt(z.subarray(0, 4 * n), sb.subarray(0, 4 * n));
    consume(sink, wordsOf(sb, sw, n), off);
  }
}

async function streamAsync(key: Uint8Array, backend: PrgBackend, sink: Sink): Promise<void> {
  if (backend !== 'webcrypto') return streamSync(key, backend, sink);
  const nWords = sink.vec.length;
  if (nWords === 0) return;
  const subtle = (globalThis as { crypto?: Crypto }).crypto?.subtle;
  if (subtle === undefined) throw new InvalidArgument("prg: backend 'webcrypto' needs crypto.subtle");
  const cryptoKey = await subtle.importKey('raw', Uint8Array.from(key), { name: 'AES-CTR' }, false, ['encrypt']);
  const chunkWords = WEBCRYPTO_CHUNK_BYTES / 4;
  const z = new Uint8Array(WEBCRYPTO_CHUNK_BYTES);
  for (let off = 0; off < nWords; off += chunkWords) {
    const n = Math.min(chunkWords, nWords - off);
    const counter = counterBlock(off / 4);
    const ks = new Uint8Array(await subtle.encrypt({ name: 'AES-CTR', counter, length: 128 }, cryptoKey, z.subarray(0, 4 * n)));
    // Scratch is taken after the await and used synchronously: concurrent
    // async calls cannot interleave inside this block.
    consume(sink, wordsOf(ks, scratch().words, n), off);
  }
}

/**
 * View `n` little-endian words of keystream `ks` as an Int32Array, copying
 * into the aligned scratch only when `ks` is unaligned or the host is
 * big-endian (then into `sw`, or a fresh array when `n` exceeds it).
 */
function wordsOf(ks: Uint8Array, sw: Int32Array, n: number): Int32Array {
  if (LITTLE_ENDIAN) {
    if ((ks.byteOffset & 3) === 0) return new Int32Array(ks.buffer, ks.byteOffset, n);
    const dst = n <= sw.length ? sw : new Int32Array(n);
    new Uint8Array(dst.buffer, dst.byteOffset, 4 * n).set(ks.subarray(0, 4 * n));
    return dst.subarray(0, n);
  }
  const view = new DataView(ks.buffer, ks.byteOffset, 4 * n);
  const out = n <= sw.length ? sw.subarray(0, n) : new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = view.getInt32(4 * i, true);
  return out;
}

function checkArgs(fn: string, key: unknown, vec: unknown, bits: unknown): asserts key is Uint8Array {
  abytes(`${fn}: key`, key, PRG_KEY_LENGTH);
  auint32s(`${fn}: ${fn.startsWith('prgAdd') ? 'acc' : 'out'}`, vec);
  abits(`${fn}: bits`, bits);
}

function checkSign(fn: string, sign: unknown): asserts sign is 1 | -1 {
  if (sign !== 1 && sign !== -1) throw new InvalidArgument(`${fn}: sign must be 1 or -1, got ${String(sign)}`);
}

/** Fill `out` with PRG(key) masked to `bits` bits; returns `out`. */
export function prgExpand(key: Uint8Array, out: Uint32Array, bits: number, backend: PrgSyncBackend = prgSyncBackend()): Uint32Array {
  checkArgs('prgExpand', key, out, bits);
  aoneOf('prgExpand: backend', backend, ['node', 'noble'] as const);
  streamSync(key, backend, sinkFor('expand', out, bits));
  return out;
}

/**
 * `acc = acc + sign * PRG(key) mod 2^bits`, streamed chunk by chunk (no
 * whole-vector allocation). Entries of `acc` are reduced mod 2^bits.
 */
export function prgAddInto(key: Uint8Array, acc: Uint32Array, bits: number, sign: 1 | -1, backend: PrgSyncBackend = prgSyncBackend()): void {
  checkArgs('prgAddInto', key, acc, bits);
  checkSign('prgAddInto', sign);
  aoneOf('prgAddInto: backend', backend, ['node', 'noble'] as const);
  streamSync(key, backend, sinkFor(sign === 1 ? 'add' : 'sub', acc, bits));
}

/** Async {@link prgExpand}; the only form that can use WebCrypto. */
export async function prgExpandAsync(key: Uint8Array, out: Uint32Array, bits: number, backend: PrgBackend = prgBackend()): Promise<Uint32Array> {
  checkArgs('prgExpandAsync', key, out, bits);
  aoneOf('prgExpandAsync: backend', backend, ['node', 'webcrypto', 'noble'] as const);
  await streamAsync(key, backend, sinkFor('expand', out, bits));
  return out;
}

/** Async {@link prgAddInto}; the only form that can use WebCrypto. */
export async function prgAddIntoAsync(key: Uint8Array, acc: Uint32Array, bits: number, sign: 1 | -1, backend: PrgBackend = prgBackend()): Promise<void> {
  checkArgs('prgAddIntoAsync', key, acc, bits);
  checkSign('prgAddIntoAsync', sign);
  aoneOf('prgAddIntoAsync: backend', backend, ['node', 'webcrypto', 'noble'] as const);
  await streamAsync(key, backend, sinkFor(sign === 1 ? 'add' : 'sub', acc, bits));
}

// ---------------------------------------------------------------------------
// Blocked multi-key accumulation.
//
// acc = acc + sum_k sign_k * PRG(key_k) mod 2^b. Calling prgAddInto once per
// key streams the whole caller vector through DRAM once per key (a 400 KB /
// 4 MB vector does not stay in L2 across calls), which made it run at about
// 0.3 of raw AES-CTR speed. Here the vector is cut into cache-sized blocks;
// every key's cipher stays open across blocks (node:crypto ciphers stream:
// successive update() calls continue the keystream), and each block of acc
// receives every key's keystream while it is in L1/L2. DRAM sees one pass
// over acc in total. Additions wrap in int32 arithmetic and the b-bit mask
// is applied once per block: (a + w1 - w2 ...) mod 2^32 reduced mod 2^b
// equals the step-by-step reduction because 2^b divides 2^32.

/** Words per block of `acc` in {@link prgAddManyInto} (64 KiB: acc block + keystream stay in L2). */
export const PRG_MANY_BLOCK_WORDS = 16384;

function addRaw(acc: Int32Array, off: number, w: Int32Array): void {
  const n = w.length;
  for (let i = 0, j = off; i < n; i++, j++) acc[j] = (acc[j]! + w[i]!) | 0;
}

function subRaw(acc: Int32Array, off: number, w: Int32Array): void {
  const n = w.length;
  for (let i = 0, j = off; i < n; i++, j++) acc[j] = (acc[j]! - w[i]!) | 0;
}

function maskRange(acc: Int32Array, off: number, n: number, mask: number): void {
  if (mask === -1) return;
  const end = off + n;
  for (let j = off; j < end; j++) acc[j] = acc[j]! & mask;
}

function checkMany(fn: string, keys: unknown, signs: unknown, acc: unknown, bits: unknown): void {
  if (!Array.isArray(keys)) throw new InvalidArgument(`${fn}: keys must be an array of 16-byte keys`);
  for (let i = 0; i < keys.length; i++) abytes(`${fn}: keys[${i}]`, keys[i], PRG_KEY_LENGTH);
  const s = signs as ArrayLike<unknown> | undefined;
  if (s === null || typeof s !== 'object' || typeof s.length !== 'number' || s.length !== keys.length) {
    throw new InvalidArgument(`${fn}: signs must have one entry (1 or -1) per key (${keys.length})`);
  }
  for (let i = 0; i < keys.length; i++) checkSign(`${fn}: signs[${i}]`, s[i]);
  auint32s(`${fn}: acc`, acc);
  abits(`${fn}: bits`, bits);
}

// A 200-byte WebAssembly SIMD module doing the per-block arithmetic on
// 16-byte lanes, about 5x faster than the scalar JS loop (which costs more
// than the AES itself). Exports: memory `mem` (4 pages = 256 KiB), and
// add(dst, src, len) / sub(dst, src, len): i32x4 add/sub of `len` bytes
// (rounded up to 16) at src into dst; mask(dst, len, m): dst &= splat(m).
// Generated from hand-assembled bytecode (three loops of v128.load,
// i32x4.add|i32x4.sub|v128.and, v128.store); no runtime other than
// WebAssembly with the SIMD proposal (Node >= 16.4, current browsers).
// Used only on little-endian hosts; without WebAssembly SIMD the scalar
// kernels above are used (same results).
/** The SIMD kernel module (base64), also instantiated by the secagg server's unmasking worker. */
export const PRG_SIMD_WASM_BASE64 =
  'AGFzbQEAAAABBwFgA39/fwADBAMAAAAFAwEABAcaBANtZW0CAANhZGQAAANzdWIAAQRtYXNrAAIKsQEDOwACQANAIAJBAEwNASAAIAD9AAQAIAH9AAQA/a4B/QsEACAAQRBqIQAgAUEQaiEBIAJBEGshAgwACwsLOwACQANAIAJBAEwNASAAIAD9AAQAIAH9AAQA/bEB/QsEACAAQRBqIQAgAUEQaiEBIAJBEGshAgwACwsLNwEBeyAC/REhAwJAA0AgAUEATA0BIAAgAP0ABAAgA/1O/QsEACAAQRBqIQAgAUEQayEBDAALCws=';
const SIMD_MEM_BYTES = 4 * 65536;

interface SimdKernel {
  u8: Uint8Array;
  add(dst: number, src: number, len: number): void;
  sub(dst: number, src: number, len: number): void;
  mask(dst: number, len: number, m: number): void;
}
let simd: SimdKernel | null | undefined;

function simdKernel(): SimdKernel | undefined {
  if (simd === undefined) {
    simd = null;
    try {
      const wasm = (globalThis as { WebAssembly?: typeof WebAssembly }).WebAssembly;
      if (wasm !== undefined && LITTLE_ENDIAN && typeof atob === 'function') {
        const bytes = Uint8Array.from(atob(PRG_SIMD_WASM_BASE64), (c) => c.charCodeAt(0));
        const ex = new wasm.Instance(new wasm.Module(bytes)).exports as unknown as {
          mem: WebAssembly.Memory; add: SimdKernel['add']; sub: SimdKernel['sub']; mask: SimdKernel['mask'];
        };
        simd = { u8: new Uint8Array(ex.mem.buffer), add: ex.add, sub: ex.sub, mask: ex.mask };
      }
    } catch {
      simd = null; // no WebAssembly SIMD here: scalar kernels
    }
  }
  return simd ?? undefined;
}

/** Whether {@link prgAddManyInto} uses the WebAssembly SIMD kernel on this runtime. */
export function prgSimdAvailable(): boolean {
  return simdKernel() !== undefined;
}

/** Blocked node:crypto core of {@link prgAddManyInto} (`useSimd`: kernel choice, for tests and benchmarks). */
function addManyNode(
  keys: readonly Uint8Array[], signs: ArrayLike<number>, acc: Int32Array, mask: number, blockWords: number, useSimd: boolean, offsetWords: number,
): void {
  const nc = nodeCrypto();
  if (nc === undefined) throw new InvalidArgument("prg: backend 'node' needs node:crypto");
  const nWords = acc.length;
  const iv = offsetWords === 0 ? ZERO_IV : counterBlock(offsetWords / 4);
  const ciphers = keys.map((k) => nc.createCipheriv('aes-128-ctr', k, iv));
  const z = zeros();
  const blockBytes = 4 * blockWords;
  const kernel = useSimd ? simdKernel() : undefined;
  if (kernel !== undefined && 2 * blockBytes <= SIMD_MEM_BYTES) {
    // acc block at [0, blockBytes) of the module's memory, keystream after it.
    const { u8 } = kernel;
    const accBytes = new Uint8Array(acc.buffer, acc.byteOffset, acc.byteLength);
    for (let off = 0; off < nWords; off += blockWords) {
      const n = Math.min(blockWords, nWords - off);
      const nb = 4 * n;
      const lanes = (nb + 15) & ~15;
      const zin = z.subarray(0, nb);
      u8.set(accBytes.subarray(4 * off, 4 * off + nb), 0);
      for (let k = 0; k < ciphers.length; k++) {
        u8.set(ciphers[k]!.update(zin), blockBytes);
        if (signs[k] === 1) kernel.add(0, blockBytes, lanes);
        else kernel.sub(0, blockBytes, lanes);
      }
      if (mask !== -1) kernel.mask(0, lanes, mask);
      accBytes.set(u8.subarray(0, nb), 4 * off);
    }
    return;
  }
  const { words: sw } = scratch();
  for (let off = 0; off < nWords; off += blockWords) {
    const n = Math.min(blockWords, nWords - off);
    const zin = z.subarray(0, 4 * n);
    for (let k = 0; k < ciphers.length; k++) {
      const w = wordsOf(ciphers[k]!.update(zin), sw, n);
      if (signs[k] === 1) addRaw(acc, off, w);
      else subRaw(acc, off, w);
    }
    maskRange(acc, off, n, mask);
  }
}

/**
 * `acc = acc + sum_i signs[i] * PRG(keys[i]) mod 2^bits`, byte-identical to
 * calling {@link prgAddInto}(keys[i], acc, bits, signs[i]) for i = 0, 1, ...
 * (entries of `acc` are reduced mod 2^bits when there is at least one key).
 * On the 'node' backend the work is blocked so that `acc` crosses DRAM once
 * instead of once per key (see above); 'noble' streams key by key.
 * `opts.offsetWords` (node only, a multiple of 4): `acc` holds the words
 * from that index of every key's stream on (a slice of a longer vector);
 * `opts.blockWords` / `opts.simd`: block size and kernel (tests, benchmarks).
 */
export function prgAddManyInto(
  keys: readonly Uint8Array[], signs: ArrayLike<number>, acc: Uint32Array, bits: number,
  backend: PrgSyncBackend = prgSyncBackend(), opts: { blockWords?: number; simd?: boolean; offsetWords?: number } = {},
): void {
  const blockWords = opts.blockWords ?? PRG_MANY_BLOCK_WORDS;
  const offsetWords = opts.offsetWords ?? 0;
  if (!Number.isSafeInteger(offsetWords) || offsetWords < 0 || offsetWords % 4 !== 0 || (offsetWords !== 0 && backend !== 'node')) {
    throw new InvalidArgument("prgAddManyInto: offsetWords must be a non-negative multiple of 4 (backend 'node' only)");
  }
  checkMany('prgAddManyInto', keys, signs, acc, bits);
  aoneOf('prgAddManyInto: backend', backend, ['node', 'noble'] as const);
  if (!Number.isSafeInteger(blockWords) || blockWords < 4 || blockWords % 4 !== 0 || blockWords > CHUNK_WORDS) {
    throw new InvalidArgument(`prgAddManyInto: blockWords must be a multiple of 4 in [4, ${CHUNK_WORDS}]`);
  }
  if (keys.length === 0 || acc.length === 0) return;
  const mask = bits === 32 ? -1 : (1 << bits) - 1;
  const vec = new Int32Array(acc.buffer, acc.byteOffset, acc.length);
  if (backend === 'node') {
    addManyNode(keys, signs, vec, mask, blockWords, opts.simd ?? true, offsetWords);
    return;
  }
  for (let k = 0; k < keys.length; k++) streamSync(keys[k]!, backend, sinkFor(signs[k] === 1 ? 'add' : 'sub', acc, bits));
}

/**
 * Async {@link prgAddManyInto}: the blocked sync path on Node; in browsers
 * WebCrypto key by key (same bytes).
 */
export async function prgAddManyIntoAsync(
  keys: readonly Uint8Array[], signs: ArrayLike<number>, acc: Uint32Array, bits: number, backend: PrgBackend = prgBackend(),
): Promise<void> {
  checkMany('prgAddManyIntoAsync', keys, signs, acc, bits);
  aoneOf('prgAddManyIntoAsync: backend', backend, ['node', 'webcrypto', 'noble'] as const);
  if (backend !== 'webcrypto') return prgAddManyInto(keys, signs, acc, bits, backend);
  for (let k = 0; k < keys.length; k++) await streamAsync(keys[k]!, backend, sinkFor(signs[k] === 1 ? 'add' : 'sub', acc, bits));
}
