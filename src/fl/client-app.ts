/**
 * The client app: the user's own tfjs model and data, run by a participant
 * (participant.ts) in Node or in a browser. The same app runs in the
 * simulation (in-process clients over the in-memory transport), across
 * `fedveil join` processes and in browsers.
 *
 * - The model: a `() => tf.LayersModel` builder, a tfjs `model.json`
 *   (a URL, `indexeddb://...`, a file path in Node) or a tfjs IOHandler.
 * - The data: tensors `{ xs, ys }` (ys as labels or one-hot), a
 *   `tf.data.Dataset` of `{ xs, ys }` elements, plain arrays
 *   `{ xs: number[][], labels: number[] }`, or a LabelledData.
 * - Local training options (epochs, batch size, learning rate or an
 *   optimizer, FedProx mu).
 *
 * Everything is checked against the model when the app is prepared,
 * before the client connects: the example shape against the model's input,
 * labels against its classes, values finite. Bad data is a `DataMismatch`
 * then, never a round aborted for everyone.
 *
 * In a round, the coordinator's task names the model by its signature (a
 * hash of the weight shapes); a client whose model differs stops with a
 * clear error instead of training the wrong thing.
 */
import * as tf from '@tensorflow/tfjs';
import { InvalidArgument } from '../errors.js';
import { sha256 } from '../crypto/hash.js';
import { systemRandom, type RandomSource } from '../crypto/random.js';
import { bytesToHex } from '../util/hex.js';
import type { DistributedDpPlan } from '../dp/plan.js';
import { PrivateClient } from './client.js';
import { countCorrect } from './train.js';
import { dpCodec, trainingCodec } from './training-codec.js';
import type { LabelledData } from './mnist.js';
import type { RoundInfo } from './participant.js';
import { parameterCount, setFlatWeights, weightSpecs } from './weights.js';

/** The user's data does not fit the user's model (or is malformed). */
export class DataMismatch extends InvalidArgument {
  constructor(message: string) {
    super(`data: ${message}`);
    this.name = 'DataMismatch';
  }
}

/** Where the model comes from. */
export type ModelSource = (() => tf.LayersModel | Promise<tf.LayersModel>) | string | tf.io.IOHandler;

/** The data forms a client app accepts. */
export type ClientData =
  | LabelledData
  | { xs: tf.Tensor; ys: tf.Tensor }
  | { xs: ArrayLike<ArrayLike<number>> | Float32Array; labels: ArrayLike<number>; shape?: readonly number[] }
  | tf.data.Dataset<{ xs: tf.Tensor; ys: tf.Tensor }>;

export interface TrainingOptions {
  epochs?: number;
  batchSize?: number;
  learningRate?: number;
  optimizer?: () => tf.Optimizer;
  proximalMu?: number;
}

export interface ClientAppOptions {
  model: ModelSource;
  /** Local training data (never leaves the client). */
  data: ClientData | (() => ClientData | Promise<ClientData>);
  /** Held-out data for federated evaluation (default: none; evaluation rounds are then refused). */
  evaluationData?: ClientData | (() => ClientData | Promise<ClientData>);
  training?: TrainingOptions;
  rng?: RandomSource;
  onTrained?: (r: { round: number; loss: number; examples: number; trainMs: number }) => void;
  /**
   * Run each local training / evaluation through this (e.g. a lock shared by
   * in-process clients that share one model instance). Default: direct.
   */
  exclusive?: <T>(work: () => Promise<T>) => Promise<T>;
  /** Dispose the model with the app (default true; false for a model shared between apps). */
  disposeModel?: boolean;
}

/** A prepared client app: its model, its checked data, and the participant's input callback. */
export interface ClientApp {
  readonly model: tf.LayersModel;
  readonly signature: string;
  readonly dim: number;
  readonly data: LabelledData;
  readonly evaluationData?: LabelledData;
  /** The participant's `input` callback: trains (or evaluates) for the round's task. */
  input(info: RoundInfo): Promise<Uint32Array>;
  dispose(): void;
}

/** The model's signature: a hash of its weights' shapes and dtypes, in order (what both sides compare). */
export function modelSignature(model: tf.LayersModel): string {
  const specs = weightSpecs(model).map((w) => `[${w.shape.join(',')}]`).join(';');
  return `tfjs:${bytesToHex(sha256(new TextEncoder().encode(specs))).slice(0, 48)}`;
}

async function loadModel(source: ModelSource): Promise<tf.LayersModel> {
  if (typeof source === 'function') {
    const m = await source();
    if (!m || typeof (m as tf.LayersModel).getWeights !== 'function') throw new InvalidArgument('model: the builder did not return a tf.LayersModel');
    return m;
  }
  if (typeof source === 'string' && !/^(https?|indexeddb|localstorage):\/\//i.test(source)) {
    const { loadModelFiles } = await import('./model-files.js');
    return tf.loadLayersModel(tf.io.fromMemory(await loadModelFiles(source)));
  }
  return tf.loadLayersModel(source as string | tf.io.IOHandler);
}

/** The model's per-example input shape and its number of classes (a softmax over the last axis). */
export function modelShape(model: tf.LayersModel): { shape: number[]; features: number; classes: number } {
  if (model.inputs.length !== 1 || model.outputs.length !== 1) throw new DataMismatch(`the model has ${model.inputs.length} inputs and ${model.outputs.length} outputs; one of each is supported`);
  const inShape = model.inputs[0]!.shape.slice(1);
  const outShape = model.outputs[0]!.shape.slice(1);
  if (inShape.some((d) => d === null) || outShape.length !== 1 || outShape[0] === null) throw new DataMismatch(`the model's input ${JSON.stringify(inShape)} / output ${JSON.stringify(outShape)} shapes must be fixed, with one output axis of classes`);
  const shape = inShape as number[];
  return { shape, features: shape.reduce((a, b) => a * b, 1), classes: outShape[0] as number };
}

/** Convert any accepted data form to LabelledData and check it against the model. */
export async function toLabelledData(data: ClientData, model: tf.LayersModel, what = 'data'): Promise<LabelledData> {
  const { shape, features, classes } = modelShape(model);
  let xs: Float32Array;
  let labelsIn: ArrayLike<number>;
  let n: number;
  const fromTensors = async (x: tf.Tensor, y: tf.Tensor): Promise<void> => {
    n = x.shape[0] ?? 0;
    const per = x.size / Math.max(1, n);
    if (per !== features) throw new DataMismatch(`${what}: each example has ${per} values (shape ${JSON.stringify(x.shape.slice(1))}), the model's input ${JSON.stringify(shape)} takes ${features}`);
    xs = Float32Array.from(await x.data());
    if (y.shape[0] !== n) throw new DataMismatch(`${what}: ${n} examples but ${y.shape[0]} labels`);
    if (y.rank === 2) {
      if (y.shape[1] !== classes) throw new DataMismatch(`${what}: one-hot labels of width ${y.shape[1]}, the model has ${classes} classes`);
      const idx = tf.tidy(() => y.argMax(-1));
      labelsIn = Array.from(await idx.data());
      idx.dispose();
    } else if (y.rank === 1) labelsIn = Array.from(await y.data());
    else throw new DataMismatch(`${what}: labels must be a vector or one-hot matrix, got rank ${y.rank}`);
  };
  if (data instanceof tf.data.Dataset) {
    const items = await data.toArray();
    if (items.length === 0) throw new DataMismatch(`${what}: the dataset is empty`);
    const x = tf.stack(items.map((e) => e.xs));
    const y = tf.stack(items.map((e) => e.ys));
    try {
      await fromTensors(x, y);
    } finally {
      x.dispose();
      y.dispose();
      for (const e of items) tf.dispose([e.xs, e.ys]);
    }
  } else if ('ys' in data && data.xs instanceof tf.Tensor) {
    await fromTensors(data.xs, data.ys);
  } else if ('labels' in data) {
    const d = data as { xs: ArrayLike<ArrayLike<number>> | Float32Array; labels: ArrayLike<number>; n?: number; features?: number };
    n = d.labels.length;
    if (d.xs instanceof Float32Array) {
      if (d.xs.length !== n * features) throw new DataMismatch(`${what}: ${d.xs.length} values for ${n} examples, the model's input ${JSON.stringify(shape)} takes ${features} each`);
      xs = d.xs;
    } else {
      const rows = d.xs as ArrayLike<ArrayLike<number>>;
      if (rows.length !== n) throw new DataMismatch(`${what}: ${rows.length} examples but ${n} labels`);
      xs = new Float32Array(n * features);
      for (let i = 0; i < n; i++) {
        const r = rows[i]!;
        if (!r || r.length !== features) throw new DataMismatch(`${what}: example ${i} has ${r ? r.length : 0} values, the model's input ${JSON.stringify(shape)} takes ${features}`);
        for (let j = 0; j < features; j++) xs[i * features + j] = r[j]!;
      }
    }
    labelsIn = d.labels;
  } else {
    throw new DataMismatch(`${what}: expected { xs, ys } tensors, a tf.data.Dataset, { xs, labels } arrays or LabelledData`);
  }
  if (n! < 1) throw new DataMismatch(`${what}: no examples`);
  for (let i = 0; i < xs!.length; i++) if (!Number.isFinite(xs![i]!)) throw new DataMismatch(`${what}: value ${i} of the examples is not finite`);
  if (classes > 256) throw new DataMismatch(`${what}: at most 256 classes are supported`);
  const labels = new Uint8Array(n!);
  for (let i = 0; i < n!; i++) {
    const l = labelsIn![i]!;
    if (!Number.isInteger(l) || l < 0 || l >= classes) throw new DataMismatch(`${what}: label ${i} is ${l}, the model has classes 0..${classes - 1}`);
    labels[i] = l;
  }
  return Object.freeze({ xs: xs!, labels, features, classes, n: n!, shape });
}

/** Load the model, convert and check the data: everything that can fail does so here, before enrolment. */
export async function prepareClientApp(opts: ClientAppOptions): Promise<ClientApp> {
  if (!opts || typeof opts !== 'object') throw new InvalidArgument('client app: options required');
  const model = await loadModel(opts.model);
  const data = await toLabelledData(typeof opts.data === 'function' ? await opts.data() : opts.data, model, 'training data');
  const evaluationData = opts.evaluationData === undefined ? undefined
    : await toLabelledData(typeof opts.evaluationData === 'function' ? await opts.evaluationData() : opts.evaluationData, model, 'evaluation data');
  const signature = modelSignature(model);
  const dim = parameterCount(model);
  const t = opts.training ?? {};
  const rng = opts.rng ?? systemRandom;
  const client = new PrivateClient({
    model, data, epochs: t.epochs ?? 1, batchSize: t.batchSize ?? 10, rng,
    ...(t.learningRate !== undefined ? { learningRate: t.learningRate } : {}), ...(t.optimizer ? { optimizer: t.optimizer } : {}),
    ...(t.proximalMu !== undefined ? { proximalMu: t.proximalMu } : {}),
  });
  const exclusive = opts.exclusive ?? (<T>(work: () => Promise<T>) => work());
  const input = (info: RoundInfo): Promise<Uint32Array> => exclusive(() => roundInput(info));
  const roundInput = async (info: RoundInfo): Promise<Uint32Array> => {
    const task = info.task;
    if (task.kind === 'vector') throw new InvalidArgument('client app: the round asks for a raw vector, not training');
    if (task.model !== signature) throw new InvalidArgument(`client app: the coordinator's model (${task.model}) is not this app's model (${signature}); run the same model on both sides`);
    const global = new Float32Array(task.global.slice().buffer);
    if (global.length !== dim) throw new InvalidArgument(`client app: the coordinator sent ${global.length} weights, the model has ${dim}`);
    if (task.kind === 'evaluate') {
      if (!evaluationData) throw new InvalidArgument('client app: an evaluation round, but the app has no evaluation data');
      setFlatWeights(model, global);
      const correct = countCorrect(model, evaluationData);
      const examples = Math.min(evaluationData.n, task.maxExamples);
      return Uint32Array.from([Math.min(correct, examples), examples]);
    }
    const plan: DistributedDpPlan | undefined = info.checked.plan;
    const want = plan ? (plan.adaptiveClipping ? plan.adaptiveClipping.layout.vectorLength : plan.paddedDim) : dim;
    if (want !== info.dim || (plan && plan.dim !== dim)) throw new InvalidArgument(`client app: the model has ${dim} parameters, the round sums ${info.dim}`);
    const codec = plan ? dpCodec(plan) : trainingCodec(info.dim, info.n, info.bits, task.range);
    const { input: encoded, update } = await client.participate(global, codec);
    opts.onTrained?.({ round: info.round, loss: update.loss, examples: update.examples, trainMs: update.trainMs });
    return encoded;
  };
  return Object.freeze({
    model, signature, dim, data, ...(evaluationData ? { evaluationData } : {}), input,
    dispose(): void {
      if (opts.disposeModel !== false) model.dispose();
    },
  });
}

