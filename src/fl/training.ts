/**
 * Federated training over the network (FedAvg, McMahan et al. 2017) for
 * `fedveil serve --model` / `fedveil join` and the browser demo: the
 * coordinator sends the global weights with each round; a participant
 * trains a tfjs model on its own local data (src/fl PrivateClient),
 * encodes its update delta with the round's codec, and only that vector
 * enters secure aggregation. The coordinator decodes the modular sum into
 * the average delta and moves the global model.
 *
 * Model specs are strings both sides can build from: `softmax:F:C` is a
 * softmax regression with F features and C classes (d = F*C + C), and
 * `mlp:F:H:C` adds one ReLU hidden layer of H units.
 *
 * The codec is fl's plainIntegerCodec: NOT differentially private (no
 * clipping beyond a value-range guard, no noise); secure aggregation still
 * hides each update. Synthetic local data: C Gaussian clusters in R^F with
 * centres fixed by the model spec (so every participant learns the same
 * task), points drawn from the CSPRNG (I7).
 *
 * Isomorphic (Node and browsers); imports tfjs, so it is loaded only when a
 * round asks for training. The tfjs-free pieces are in training-codec.ts.
 */
import * as tf from '@tensorflow/tfjs';
import { InvalidArgument } from '../errors.js';
import type { RoundCodec } from './codec.js';
import { dpCodec, modelDimension, parseModelSpec, trainingCodec, type ModelSpec } from './training-codec.js';
import type { DistributedDpPlan } from '../dp/plan.js';
import type { RoundInfo } from './participant.js';
import { randomUnit, systemRandom, type RandomSource } from '../crypto/random.js';
import { PrivateClient } from './client.js';
import type { LabelledData } from './mnist.js';
import { buildMlp, evaluateAccuracy } from './train.js';
import { flattenWeights, setFlatWeights } from './weights.js';

export function buildModel(spec: ModelSpec): tf.Sequential {
  return buildMlp(spec.features, spec.hidden, spec.classes);
}

/**
 * Node: pick the fastest tfjs backend available (fl's selectBackend:
 * tfjs-node, then wasm, then cpu). Browsers set their backend themselves.
 */
export async function prepareBackend(): Promise<string> {
  const { selectBackend, describeBackend } = await import('./backend.js');
  return describeBackend(await selectBackend('auto'));
}

/** Initial global weights (Glorot-uniform, from the platform's tfjs RNG; public). */
export function initialWeights(spec: ModelSpec): Float32Array {
  const model = buildModel(spec);
  try {
    return flattenWeights(model);
  } finally {
    model.dispose();
  }
}

/** Cluster centre c, coordinate j: fixed by the spec so that all participants share the task. */
function centre(c: number, j: number): number {
  return 2 * Math.sin(1.7 * (c + 1) * (j + 1));
}

/** `count` labelled points from the spec's clusters (unit-variance Gaussian noise, Box-Muller over the CSPRNG). */
export function syntheticData(spec: ModelSpec, count: number, rng: RandomSource = systemRandom): LabelledData {
  const xs = new Float32Array(count * spec.features);
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const c = i % spec.classes;
    labels[i] = c;
    for (let j = 0; j < spec.features; j++) {
      const u1 = 1 - randomUnit(rng);
      const u2 = randomUnit(rng);
      xs[i * spec.features + j] = centre(c, j) + Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
    }
  }
  return { xs, labels, features: spec.features, classes: spec.classes, n: count };
}

/** A participant's trainer: local data + a model, producing the round's encoded update. */
export class LocalTrainer {
  readonly spec: ModelSpec;
  private readonly client: PrivateClient;

  constructor(spec: ModelSpec, data: LabelledData, opts: { epochs?: number; learningRate?: number; rng?: RandomSource } = {}) {
    if (data.features !== spec.features || data.classes !== spec.classes) throw new InvalidArgument(`local data has ${data.features} features / ${data.classes} classes, the model wants ${spec.features} / ${spec.classes}`);
    this.spec = spec;
    this.client = new PrivateClient({ model: () => buildModel(spec), data, epochs: opts.epochs ?? 1, batchSize: 16, learningRate: opts.learningRate ?? 0.1, ...(opts.rng ? { rng: opts.rng } : {}) });
  }

  /** Train from `global`, return the encoded update and the local loss. */
  async update(global: Float32Array, codec: RoundCodec): Promise<{ input: Uint32Array; loss: number }> {
    const { input, update } = await this.client.participate(global, codec);
    return { input, loss: update.loss };
  }

  dispose(): void {
    this.client.dispose();
  }
}


/** What a training participant reports after each local update. */
export interface TrainingReport {
  readonly round: number;
  readonly loss: number;
  readonly examples: number;
}

/**
 * The participant side of a `train` round task: builds the model from the
 * spec on first use (with `data`, or `examples` synthetic points), trains
 * from the round's global weights and returns the encoded update.
 */
export function trainingInput(opts: { data?: LabelledData; examples?: number; epochs?: number; onTrained?: (r: TrainingReport) => void } = {}): (info: RoundInfo) => Promise<Uint32Array> {
  let trainer: LocalTrainer | undefined;
  let trainerSpec = '';
  return async (info: RoundInfo): Promise<Uint32Array> => {
    const task = info.task;
    if (task.kind !== 'train') throw new InvalidArgument('trainingInput: the round does not ask for training');
    const spec = parseModelSpec(task.spec ?? task.model);
    // The plan the client verified against its policy (never the raw task.dp).
    const plan: DistributedDpPlan | undefined = info.checked.plan;
    // With DP the round sums the rotated, padded vector (length paddedDim).
    const want = plan ? (plan.adaptiveClipping ? plan.adaptiveClipping.layout.vectorLength : plan.paddedDim) : modelDimension(spec);
    if (want !== info.dim || (plan && plan.dim !== modelDimension(spec))) throw new InvalidArgument(`model ${task.spec ?? task.model} has ${modelDimension(spec)} parameters, the round sums ${info.dim}`);
    if (!trainer || trainerSpec !== (task.spec ?? task.model)) {
      trainer?.dispose();
      let data = opts.data ?? syntheticData(spec, opts.examples ?? 64);
      // Local data need not contain every class; its labels must fit the model.
      if (opts.data) {
        if (data.labels.some((l) => l >= spec.classes)) throw new InvalidArgument(`local data has labels >= ${spec.classes}, the classes of model ${task.spec ?? task.model}`);
        data = { ...data, classes: spec.classes };
      }
      trainer = new LocalTrainer(spec, data, opts.epochs === undefined ? {} : { epochs: opts.epochs });
      trainerSpec = task.spec ?? task.model;
    }
    const global = new Float32Array(task.global.slice().buffer);
    const codec = plan ? dpCodec(plan) : trainingCodec(info.dim, info.n, info.bits, task.range);
    const { input, loss } = await trainer.update(global, codec);
    opts.onTrained?.({ round: info.round, loss, examples: opts.data?.n ?? opts.examples ?? 64 });
    return input;
  };
}

/** Accuracy of global weights on labelled data (the coordinator's progress report). */
export function evaluateGlobal(spec: ModelSpec, global: Float32Array, data: LabelledData): number {
  const model = buildModel(spec);
  try {
    setFlatWeights(model, global);
    return evaluateAccuracy(model, data);
  } finally {
    model.dispose();
  }
}

/**
 * The built-in synthetic task of `fedveil serve --model SPEC` as a server
 * app: the spec's model, evaluated after each round on 500 held-out points
 * of the spec's clusters.
 */
export function syntheticServerApp(spec: ModelSpec): import('./app-module.js').ServerAppModule {
  const heldOut = syntheticData(spec, 500);
  return Object.freeze({
    model: () => buildModel(spec),
    evaluate: async (model: tf.LayersModel) => evaluateAccuracy(model, heldOut),
  });
}
