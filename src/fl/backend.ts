/**
 * TensorFlow.js backend selection for fedveil (docs/fl.md, Backends).
 *
 * Best first:
 *  1. `tfjs-node` (`@tensorflow/tfjs-node`, native libtensorflow) when it can
 *     be loaded. It is an OPTIONAL peer dependency: it needs a libtensorflow
 *     download at install time that not every machine can make, so fedveil
 *     never imports it statically and never requires it.
 *  2. `wasm` (`@tensorflow/tfjs-backend-wasm`, XNNPACK). In Node the package
 *     loads its `.wasm` from its own `dist/` directory (no fetch), so the
 *     default paths work in Node, jest and the CLI. On this Node build the
 *     SIMD binary is picked; the multi-threaded binary needs cross-origin
 *     isolated Web Workers and is not used in Node (one thread).
 *  3. `cpu` (pure JavaScript), always available.
 *
 * Measured on the 2NN (784-200-200-10, B = 10): wasm is about 3x faster than
 * cpu per local epoch (see docs/fl.md, `npx tsx bench/fl.ts --experiment backend`).
 */
import * as tf from '@tensorflow/tfjs';
import { InvalidArgument } from '../errors.js';

export type BackendName = 'tensorflow' | 'wasm' | 'cpu';
export type BackendPreference = 'auto' | 'tfjs-node' | 'wasm' | 'cpu';

export interface BackendReport {
  /** The tfjs backend now active (`tf.getBackend()`). */
  readonly backend: BackendName;
  /** Why the better backends were not taken, best first. */
  readonly skipped: readonly string[];
  /** wasm only: SIMD support and thread count. */
  readonly simd?: boolean;
  readonly threads?: number;
}

let current: Promise<BackendReport> | undefined;
let currentPreference: BackendPreference | undefined;

// A variable specifier keeps TypeScript and bundlers from resolving the
// optional peer at build time: it is loaded only if present at run time.
const TFJS_NODE = '@tensorflow/tfjs-node';
const TFJS_WASM = '@tensorflow/tfjs-backend-wasm';

async function tryTfjsNode(): Promise<string | undefined> {
  try {
    await import(TFJS_NODE);
  } catch (err) {
    return `tfjs-node: not loadable (${err instanceof Error ? err.message.split('\n')[0] : String(err)})`;
  }
  if (!(await tf.setBackend('tensorflow'))) return 'tfjs-node: loaded but the tensorflow backend failed to initialise';
  return undefined;
}

async function tryWasm(): Promise<string | undefined> {
  try {
    await import(TFJS_WASM);
  } catch (err) {
    return `wasm: not loadable (${err instanceof Error ? err.message.split('\n')[0] : String(err)})`;
  }
  try {
    if (!(await tf.setBackend('wasm'))) return 'wasm: backend failed to initialise';
  } catch (err) {
    return `wasm: backend failed to initialise (${err instanceof Error ? err.message : String(err)})`;
  }
  return undefined;
}

async function select(preference: BackendPreference): Promise<BackendReport> {
  const skipped: string[] = [];
  const order: BackendPreference[] = preference === 'auto' ? ['tfjs-node', 'wasm', 'cpu'] : [preference];
  for (const choice of order) {
    if (choice === 'tfjs-node') {
      const why = await tryTfjsNode();
      if (why === undefined) {
        await tf.ready();
        return Object.freeze({ backend: 'tensorflow' as const, skipped });
      }
      skipped.push(why);
    } else if (choice === 'wasm') {
      const why = await tryWasm();
      if (why === undefined) {
        await tf.ready();
        const simd = Boolean(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'));
        const wasm = (await import(TFJS_WASM)) as { getThreadsCount?: () => number };
        return Object.freeze({ backend: 'wasm' as const, skipped, simd, threads: wasm.getThreadsCount?.() ?? 1 });
      }
      skipped.push(why);
    } else {
      if (!(await tf.setBackend('cpu'))) throw new InvalidArgument('cpu backend failed to initialise');
      await tf.ready();
      return Object.freeze({ backend: 'cpu' as const, skipped });
    }
  }
  throw new InvalidArgument(`tfjs backend "${preference}" is not available: ${skipped.join('; ')}`);
}

/**
 * Select the fastest available tfjs backend (or the one asked for) and make
 * it the active one. Idempotent per preference: later calls return the same
 * report without re-initialising.
 */
export function selectBackend(preference: BackendPreference = 'auto'): Promise<BackendReport> {
  if (!['auto', 'tfjs-node', 'wasm', 'cpu'].includes(preference)) {
    throw new InvalidArgument(`backend must be auto|tfjs-node|wasm|cpu, got "${String(preference)}"`);
  }
  if (current === undefined || currentPreference !== preference) {
    currentPreference = preference;
    current = select(preference);
  }
  return current;
}

/** One line describing the report, e.g. `wasm (SIMD, 1 thread)`. */
export function describeBackend(r: BackendReport): string {
  if (r.backend === 'wasm') return `wasm (${r.simd ? 'SIMD' : 'no SIMD'}, ${r.threads ?? 1} thread${(r.threads ?? 1) === 1 ? '' : 's'})`;
  return r.backend === 'tensorflow' ? 'tfjs-node (libtensorflow)' : 'cpu (pure JS)';
}
