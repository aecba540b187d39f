/**
 * Server optimisers for federated learning, acting on the DECODED average
 * update only (the server never sees a single client's update, only the
 * unmasked, noised average).
 *
 * With `delta` = mean over clients of (local weights - global weights):
 * - FedAvg (McMahan et al. 2017), with a server learning rate eta
 *   (Reddi et al. 2021, Algorithm 1 with SGD as the server optimiser):
 *   x <- x + eta * delta.
 * - FedAdam / FedYogi (Reddi et al., "Adaptive Federated Optimization",
 *   ICLR 2021, Algorithm 2), no bias correction, as in the paper:
 *   m <- beta1 m + (1 - beta1) delta
 *   Adam: v <- beta2 v + (1 - beta2) delta^2
 *   Yogi: v <- v - (1 - beta2) delta^2 sign(v - delta^2)
 *   x <- x + eta * m / (sqrt(v) + tau)
 *   Defaults beta1 = 0.9, beta2 = 0.99, tau = 1e-3 (the paper's), and
 *   v initialised to tau^2 (the paper requires v_{-1} >= tau^2).
 *
 * Strategies keep their moment state between rounds; `reset()` clears it.
 */
import { InvalidArgument } from '../errors.js';
import { anumber, apositive } from '../util/assert.js';

export interface Strategy {
  readonly name: 'fedavg' | 'fedadam' | 'fedyogi';
  readonly serverLearningRate: number;
  /** The new global weights from the current ones and the average client delta (inputs unchanged). */
  apply(global: Float32Array, averageDelta: Float32Array | Float64Array): Float32Array;
  /** Forget optimiser state (moments). */
  reset(): void;
  /** The optimiser state as plain JSON (for checkpoints). */
  state(): StrategyState;
  /** Continue from a state written by {@link state} (InvalidArgument if it is another strategy's). */
  restore(state: StrategyState): void;
}

/** A strategy's optimiser state in a checkpoint: its name and, for the adaptive ones, the moments. */
export interface StrategyState {
  readonly name: Strategy['name'];
  readonly m?: number[];
  readonly v?: number[];
}

function checkState(kind: Strategy['name'], state: StrategyState): void {
  if (!state || typeof state !== 'object' || state.name !== kind) throw new InvalidArgument(`strategy: the checkpoint holds ${state && typeof state === 'object' ? String(state.name) : 'no'} state, this server runs ${kind}`);
}

function checkShapes(global: Float32Array, delta: Float32Array | Float64Array): void {
  if (!(global instanceof Float32Array)) throw new InvalidArgument('strategy: global weights must be a Float32Array');
  if (delta.length !== global.length) throw new InvalidArgument(`strategy: delta has ${delta.length} values, weights ${global.length}`);
  for (let i = 0; i < delta.length; i++) {
    if (!Number.isFinite(delta[i]!)) throw new InvalidArgument(`strategy: delta[${i}] is not finite`);
  }
}

/** FedAvg with a server learning rate (1.0 = plain federated averaging). */
export function fedAvg(opts: { serverLearningRate?: number } = {}): Strategy {
  const eta = opts.serverLearningRate ?? 1.0;
  apositive('serverLearningRate', eta);
  return Object.freeze({
    name: 'fedavg' as const,
    serverLearningRate: eta,
    apply(global: Float32Array, delta: Float32Array | Float64Array): Float32Array {
      checkShapes(global, delta);
      const out = new Float32Array(global.length);
      for (let i = 0; i < out.length; i++) out[i] = global[i]! + eta * delta[i]!;
      return out;
    },
    reset(): void {},
    state: () => ({ name: 'fedavg' as const }),
    restore(state: StrategyState): void {
      checkState('fedavg', state);
    },
  });
}

export interface AdaptiveOptions {
  serverLearningRate?: number;
  beta1?: number;
  beta2?: number;
  tau?: number;
}

function adaptive(kind: 'fedadam' | 'fedyogi', opts: AdaptiveOptions): Strategy {
  const eta = opts.serverLearningRate ?? 1e-2;
  const beta1 = opts.beta1 ?? 0.9;
  const beta2 = opts.beta2 ?? 0.99;
  const tau = opts.tau ?? 1e-3;
  apositive('serverLearningRate', eta);
  anumber('beta1', beta1, 0, 1);
  anumber('beta2', beta2, 0, 1);
  apositive('tau', tau);
  let m: Float64Array | undefined;
  let v: Float64Array | undefined;
  return Object.freeze({
    name: kind,
    serverLearningRate: eta,
    apply(global: Float32Array, delta: Float32Array | Float64Array): Float32Array {
      checkShapes(global, delta);
      if (m === undefined || v === undefined || m.length !== global.length) {
        m = new Float64Array(global.length);
        v = new Float64Array(global.length).fill(tau * tau);
      }
      const out = new Float32Array(global.length);
      for (let i = 0; i < out.length; i++) {
        const d = delta[i]!;
        const d2 = d * d;
        const mi = beta1 * m[i]! + (1 - beta1) * d;
        const vPrev = v[i]!;
        const vi = kind === 'fedadam' ? beta2 * vPrev + (1 - beta2) * d2 : vPrev - (1 - beta2) * d2 * Math.sign(vPrev - d2);
        m[i] = mi;
        v[i] = vi;
        out[i] = global[i]! + (eta * mi) / (Math.sqrt(vi) + tau);
      }
      return out;
    },
    reset(): void {
      m = undefined;
      v = undefined;
    },
    state: (): StrategyState => ({ name: kind, ...(m && v ? { m: Array.from(m), v: Array.from(v) } : {}) }),
    restore(state: StrategyState): void {
      checkState(kind, state);
      if (state.m === undefined && state.v === undefined) {
        m = undefined;
        v = undefined;
        return;
      }
      if (!Array.isArray(state.m) || !Array.isArray(state.v) || state.m.length !== state.v.length || !state.m.every(Number.isFinite) || !state.v.every(Number.isFinite)) {
        throw new InvalidArgument(`strategy: the checkpoint's ${kind} moments are malformed`);
      }
      m = Float64Array.from(state.m);
      v = Float64Array.from(state.v);
    },
  });
}

/** FedAdam (Reddi et al. 2021). Default server learning rate 1e-2. */
export function fedAdam(opts: AdaptiveOptions = {}): Strategy {
  return adaptive('fedadam', opts);
}

/** FedYogi (Reddi et al. 2021). Default server learning rate 1e-2. */
export function fedYogi(opts: AdaptiveOptions = {}): Strategy {
  return adaptive('fedyogi', opts);
}
