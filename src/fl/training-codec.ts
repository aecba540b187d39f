/**
 * The tfjs-free half of network training (see training.ts): model specs,
 * their dimension, the round codec, and the coordinator's FedAvg step. The
 * coordinator imports only this, never tfjs.
 *
 * Two codecs: fl's plainIntegerCodec, NOT differentially private (a
 * value-range guard, no clipping norm, no noise; secure aggregation still
 * hides each individual update from the coordinator), and the distributed
 * DP codec of the dp layer (clip, rotate, scale, conditional rounding,
 * discrete Gaussian / Skellam noise added on the client before masking, I6;
 * Kairouz et al. 2021), used when the coordinator sends a DP plan.
 */
import { InvalidArgument } from '../errors.js';
import { dpCodec, plainIntegerCodec, type RoundCodec } from './codec.js';

export { dpCodec };

export interface ModelSpec {
  readonly features: number;
  readonly hidden: number[];
  readonly classes: number;
}

export function parseModelSpec(spec: string): ModelSpec {
  const soft = /^softmax:(\d+):(\d+)$/.exec(spec);
  const mlp = /^mlp:(\d+):(\d+):(\d+)$/.exec(spec);
  const parts = soft ? { features: Number(soft[1]), hidden: [], classes: Number(soft[2]) } : mlp ? { features: Number(mlp[1]), hidden: [Number(mlp[2])], classes: Number(mlp[3]) } : undefined;
  if (!parts || parts.features < 1 || parts.classes < 2 || parts.features > 4096 || parts.classes > 1000 || parts.hidden.some((h) => h < 1 || h > 4096)) {
    throw new InvalidArgument(`model spec ${JSON.stringify(spec)}: expected softmax:F:C or mlp:F:H:C (F, H <= 4096, 2 <= C <= 1000)`);
  }
  return parts;
}

/** Number of parameters d of a model spec. */
export function modelDimension(spec: ModelSpec): number {
  let d = 0;
  let prev = spec.features;
  for (const h of [...spec.hidden, spec.classes]) {
    d += prev * h + h;
    prev = h;
  }
  return d;
}

/** The round codec both sides derive from (d, n, bits). */
export function trainingCodec(dim: number, n: number, bits: number, range: number): RoundCodec {
  return plainIntegerCodec({ dim, maxClients: n, bits, range });
}

/** Server side: FedAvg step global += avg (server learning rate 1). */
export function applyAverage(global: Float32Array, sum: Uint32Array, survivors: number, codec: RoundCodec): Float32Array {
  const avg = codec.decode(sum, survivors);
  const next = Float32Array.from(global);
  for (let i = 0; i < next.length; i++) next[i] = next[i]! + avg[i]!;
  return next;
}
