/**
 * Mask removal for the SecAgg server (Bonawitz et al. CCS'17, §4 Unmasking:
 * sum - sum_{u in U3} PRG(b_u) +/- sum_{dropped v, surviving u} PRG(s_uv)).
 *
 * All keys go to one call of the crypto layer's blocked multi-key
 * accumulation (`prgAddManyInto`): the sum crosses DRAM once instead of
 * once per key, and the per-block arithmetic runs in WebAssembly SIMD.
 *
 * On Node with >= 2 CPUs and enough work (keys x words >= 2^27 by default),
 * the index range of the sum is split in two: the main thread removes the
 * masks from the first half while one worker thread (worker_threads, code
 * below, node:crypto + the same SIMD module) does the second half on a
 * SharedArrayBuffer copy, with every key's AES-CTR stream started at the
 * half's counter block (CTR is seekable: word w lies in block w / 4). The
 * main thread then waits synchronously (Atomics.wait: the server state
 * machine is synchronous) and copies the half back. The worker is
 * terminated after each call and unref'd, so it never keeps a process (or
 * jest) alive. If the worker reports a failure or does not finish within
 * `workerTimeoutMs`, the main thread computes that half itself from the
 * untouched original. Outside Node (browsers) the single-thread path runs.
 *
 * Assumptions: little-endian host for the worker path (the SIMD kernel works
 * on raw bytes; otherwise single-thread). The result is byte-identical to
 * one `prgAddInto` per key in any order (addition mod 2^b commutes); the
 * tests compare both paths against that.
 */
import type * as NodeOs from 'node:os';
import type * as NodeWorkerThreads from 'node:worker_threads';
import { PRG_MANY_BLOCK_WORDS, PRG_SIMD_WASM_BASE64, prgAddManyInto, prgSimdAvailable } from '../crypto/prg.js';

export interface RemoveMasksOptions {
  /** 'auto' (default): a worker when on Node, >= 2 CPUs and keys x words >= minWork; true: always when possible; false: never. */
  workers?: boolean | 'auto';
  /** Work (keys x words) from which 'auto' uses a worker. Default 2^27. */
  minWork?: number;
  /** How long to wait for the worker before computing its half here. Default 120 s. */
  workerTimeoutMs?: number;
}

/** What the last call did (tests and benchmarks). */
export const lastRemoveMasks: { workers: number; fellBack: boolean } = { workers: 0, fellBack: false };

// Starting the worker costs about 45 ms here; from ~10^8 key-words on it pays (measured: 1000 keys x 10^5 words 138 -> 101 ms, 4000 keys 466 -> 332 ms).
const DEFAULT_MIN_WORK = 2 ** 27;

function builtin<T>(id: string): T | undefined {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  const mod = typeof proc?.getBuiltinModule === 'function' ? proc.getBuiltinModule(id) : undefined;
  return mod === undefined || mod === null ? undefined : (mod as T);
}

// The worker's code (CommonJS, eval'd: no module resolution, so it runs the
// same under tsx, jest and the built dist/). Same algorithm as the crypto
// layer's addManyNode SIMD path, with the ciphers' IV set to the counter
// block of the first word of the worker's range.
const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const crypto = require('node:crypto');
const { keys, signs, acc, bits, offsetWords, blockWords, wasm, flag } = workerData;
try {
  const K = signs.length, n = acc.length;
  const block = offsetWords / 4;
  const iv = Buffer.alloc(16);
  iv.writeUInt32BE(Math.floor(block / 4294967296), 8);
  iv.writeUInt32BE(block >>> 0, 12);
  const ciphers = [];
  for (let k = 0; k < K; k++) ciphers.push(crypto.createCipheriv('aes-128-ctr', keys.subarray(16 * k, 16 * k + 16), iv));
  const ex = new WebAssembly.Instance(new WebAssembly.Module(Buffer.from(wasm, 'base64'))).exports;
  const u8 = new Uint8Array(ex.mem.buffer);
  const accBytes = new Uint8Array(acc.buffer, acc.byteOffset, acc.byteLength);
  const blockBytes = 4 * blockWords;
  const z = new Uint8Array(blockBytes);
  const mask = bits === 32 ? -1 : (1 << bits) - 1;
  for (let off = 0; off < n; off += blockWords) {
    const cnt = Math.min(blockWords, n - off), nb = 4 * cnt, lanes = (nb + 15) & ~15;
    const zin = z.subarray(0, nb);
    u8.set(accBytes.subarray(4 * off, 4 * off + nb), 0);
    for (let k = 0; k < K; k++) {
      u8.set(ciphers[k].update(zin), blockBytes);
      if (signs[k] === 1) ex.add(0, blockBytes, lanes); else ex.sub(0, blockBytes, lanes);
    }
    if (mask !== -1) ex.mask(0, lanes, mask);
    accBytes.set(u8.subarray(0, nb), 4 * off);
  }
  Atomics.store(flag, 0, 1);
} catch (err) {
  Atomics.store(flag, 0, 2);
}
Atomics.notify(flag, 0);
`;

function canUseWorker(): { wt: typeof NodeWorkerThreads } | undefined {
  if (typeof SharedArrayBuffer !== 'function' || typeof Atomics?.wait !== 'function') return undefined;
  if (!prgSimdAvailable()) return undefined; // also implies a little-endian host
  const wt = builtin<typeof NodeWorkerThreads>('node:worker_threads');
  const os = builtin<typeof NodeOs>('node:os');
  if (wt === undefined || os === undefined || builtin('node:crypto') === undefined) return undefined;
  const cpus = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  return cpus >= 2 ? { wt } : undefined;
}

/** sum = sum + sum_i signs[i] * PRG(keys[i]) mod 2^bits (bits: the round's modulus). */
export function removeMasks(
  keys: readonly Uint8Array[], signs: readonly number[], sum: Uint32Array, bits: number, opts: RemoveMasksOptions = {},
): void {
  lastRemoveMasks.workers = 0;
  lastRemoveMasks.fellBack = false;
  const mode = opts.workers ?? 'auto';
  const work = keys.length * sum.length;
  const env = mode === false || keys.length === 0 || sum.length < 8 ? undefined : canUseWorker();
  if (env === undefined || (mode === 'auto' && work < (opts.minWork ?? DEFAULT_MIN_WORK))) {
    prgAddManyInto(keys, signs, sum, bits);
    return;
  }
  // Validate everything before any thread starts (same errors as the single-thread path).
  prgAddManyInto(keys, signs, new Uint32Array(0), bits);
  const n = sum.length;
  const mid = (n >> 1) & ~3; // a multiple of 4 words: the worker's range starts on an AES block
  const hiLen = n - mid;
  const shared = new Int32Array(new SharedArrayBuffer(4 * hiLen));
  new Uint32Array(shared.buffer).set(sum.subarray(mid));
  const flag = new Int32Array(new SharedArrayBuffer(4));
  const keyBytes = new Uint8Array(16 * keys.length);
  keys.forEach((k, i) => keyBytes.set(k, 16 * i));
  const signBytes = Int8Array.from(signs);
  let worker: NodeWorkerThreads.Worker | undefined;
  try {
    worker = new env.wt.Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { keys: keyBytes, signs: signBytes, acc: shared, bits, offsetWords: mid, blockWords: PRG_MANY_BLOCK_WORDS, wasm: PRG_SIMD_WASM_BASE64, flag },
    });
    worker.unref();
    worker.on('error', () => undefined); // reported through the flag; never an uncaught event
  } catch {
    worker = undefined;
  }
  prgAddManyInto(keys, signs, sum.subarray(0, mid), bits);
  let ok = false;
  if (worker !== undefined) {
    lastRemoveMasks.workers = 1;
    const deadline = Date.now() + (opts.workerTimeoutMs ?? 120_000);
    while (Atomics.load(flag, 0) === 0) {
      const left = deadline - Date.now();
      if (left <= 0) break;
      Atomics.wait(flag, 0, 0, Math.min(left, 1000));
    }
    ok = Atomics.load(flag, 0) === 1;
    void worker.terminate().catch(() => undefined);
  }
  if (ok) {
    sum.set(new Uint32Array(shared.buffer), mid);
  } else {
    lastRemoveMasks.fellBack = true;
    prgAddManyInto(keys, signs, sum.subarray(mid), bits, 'node', { offsetWords: mid });
  }
}
