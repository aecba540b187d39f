/**
 * A federated-learning client around any tfjs LayersModel (docs/fl.md):
 * load the global weights, train on local data that
 * never leaves the client, compute the update delta = local - global, and
 * encode it for secure aggregation with the round's codec (clip, rotate,
 * scale, round, add integer noise, wrap: section 4). Only the encoded,
 * noised integers leave the client, and secure aggregation masks even those.
 *
 * The model can be owned by the client (a factory) or shared (one instance
 * reused by many simulated clients one after another): a client only ever
 * overwrites the weights before it trains, so sharing is safe as long as
 * clients train sequentially.
 */
import type * as tf from '@tensorflow/tfjs';
import { InvalidArgument } from '../errors.js';
import { systemRandom, type RandomSource } from '../crypto/random.js';
import type { RoundCodec } from './codec.js';
import type { LabelledData } from './mnist.js';
import { trainLocal, type LocalTrainingOptions } from './train.js';
import { flattenWeights, setFlatWeights } from './weights.js';

export interface PrivateClientOptions {
  /** A model instance (may be shared between simulated clients) or a factory. */
  model: tf.LayersModel | (() => tf.LayersModel);
  data: LabelledData;
  epochs?: number;
  batchSize?: number;
  /** Client SGD learning rate (default 0.05; ignored with `optimizer`). */
  learningRate?: number;
  optimizer?: () => tf.Optimizer;
  /** FedProx proximal term mu (Li et al. 2020); 0 = FedAvg local SGD. */
  proximalMu?: number;
  /** Randomness for batch order, rounding and noise (default: system CSPRNG, I7). */
  rng?: RandomSource;
}

export interface LocalUpdate {
  /** local weights - global weights, length d. */
  readonly delta: Float32Array;
  readonly examples: number;
  readonly loss: number;
  /** Wall time of local training, ms. */
  readonly trainMs: number;
}

export class PrivateClient {
  readonly data: LabelledData;
  private readonly options: Required<Pick<PrivateClientOptions, 'epochs' | 'batchSize' | 'proximalMu'>> & Pick<PrivateClientOptions, 'learningRate' | 'optimizer'>;
  private readonly modelSource: tf.LayersModel | (() => tf.LayersModel);
  private ownModel: tf.LayersModel | undefined;
  private readonly rng: RandomSource;

  constructor(opts: PrivateClientOptions) {
    if (!opts || typeof opts !== 'object') throw new InvalidArgument('PrivateClient: options required');
    if (!opts.data || opts.data.n < 1) throw new InvalidArgument('PrivateClient: data must hold at least one example');
    this.modelSource = opts.model;
    this.data = opts.data;
    this.rng = opts.rng ?? systemRandom;
    this.options = {
      epochs: opts.epochs ?? 1,
      batchSize: opts.batchSize ?? 10,
      proximalMu: opts.proximalMu ?? 0,
      learningRate: opts.learningRate,
      optimizer: opts.optimizer,
    };
  }

  /** The model this client trains (built on first use when given a factory). */
  model(): tf.LayersModel {
    if (typeof this.modelSource !== 'function') return this.modelSource;
    this.ownModel ??= this.modelSource();
    return this.ownModel;
  }

  /** Load `global`, train locally, return the delta. The global vector is not modified. */
  async localUpdate(global: Float32Array): Promise<LocalUpdate> {
    const model = this.model();
    setFlatWeights(model, global);
    const t0 = performance.now();
    const opts: LocalTrainingOptions = {
      epochs: this.options.epochs,
      batchSize: this.options.batchSize,
      proximalMu: this.options.proximalMu,
      rng: this.rng,
    };
    if (this.options.learningRate !== undefined) opts.learningRate = this.options.learningRate;
    if (this.options.optimizer !== undefined) opts.optimizer = this.options.optimizer;
    const { loss } = await trainLocal(model, this.data, opts);
    const trainMs = performance.now() - t0;
    const delta = flattenWeights(model);
    for (let i = 0; i < delta.length; i++) delta[i]! -= global[i]!;
    return Object.freeze({ delta, examples: this.data.n, loss, trainMs });
  }

  /** Encode (privatize) a delta with the round's codec: the only thing that leaves the client. */
  privatize(delta: Float32Array, codec: RoundCodec): Uint32Array {
    return codec.encode(delta, this.rng);
  }

  /** `localUpdate` then `privatize`. */
  async participate(global: Float32Array, codec: RoundCodec): Promise<{ input: Uint32Array; update: LocalUpdate }> {
    const update = await this.localUpdate(global);
    return { input: this.privatize(update.delta, codec), update };
  }

  /** Dispose the client's own model (never a shared one). */
  dispose(): void {
    this.ownModel?.dispose();
    this.ownModel = undefined;
  }
}
