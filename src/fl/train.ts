/**
 * Local training and evaluation of a tfjs LayersModel on in-memory data.
 *
 * A custom loop (`optimizer.minimize` per mini-batch) rather than
 * `model.fit`: it needs no `compile`, adds the optional FedProx proximal
 * term (Li et al., "Federated Optimization in Heterogeneous Networks",
 * MLSys 2020): loss + mu/2 * ||w - w_global||^2, and draws the mini-batch
 * order from a RandomSource (I7). Every tensor is created inside `tf.tidy`
 * or disposed explicitly, so `tf.memory().numTensors` is the same before and
 * after a call.
 *
 * Models built here: the 2NN of McMahan et al. 2017 (784-200-200-10, ReLU,
 * 199,210 parameters) and a generic MLP.
 */
import * as tf from '@tensorflow/tfjs';
import { InvalidArgument } from '../errors.js';
import { systemRandom, type RandomSource } from '../crypto/random.js';
import { aint, anumber, apositive } from '../util/assert.js';
import type { LabelledData } from './mnist.js';
import { shuffleInPlace } from './splits.js';

/** A multilayer perceptron with ReLU hidden layers and a softmax output. */
export function buildMlp(inputs: number, hidden: readonly number[], classes: number, seed?: number): tf.Sequential {
  const model = tf.sequential();
  let first = true;
  let k = 0;
  for (const units of hidden) {
    model.add(tf.layers.dense({
      ...(first ? { inputShape: [inputs] } : {}),
      units,
      activation: 'relu',
      kernelInitializer: tf.initializers.glorotUniform(seed === undefined ? {} : { seed: seed + k++ }),
    }));
    first = false;
  }
  model.add(tf.layers.dense({
    ...(first ? { inputShape: [inputs] } : {}),
    units: classes,
    activation: 'softmax',
    kernelInitializer: tf.initializers.glorotUniform(seed === undefined ? {} : { seed: seed + k }),
  }));
  return model;
}

/** McMahan et al. 2017's "2NN": 784-200-200-10, 199,210 parameters. */
export function build2nn(seed?: number): tf.Sequential {
  return buildMlp(784, [200, 200], 10, seed);
}

export interface LocalTrainingOptions {
  epochs: number;
  batchSize: number;
  /** Client SGD learning rate (ignored when `optimizer` is given). */
  learningRate?: number;
  /** A fresh optimizer per local training run (default: SGD at `learningRate`). */
  optimizer?: () => tf.Optimizer;
  /** FedProx mu >= 0 (0 = plain local SGD). */
  proximalMu?: number;
  rng?: RandomSource;
}

export interface LocalTrainingResult {
  /** Mean training loss over the last epoch. */
  readonly loss: number;
  readonly steps: number;
}

function lossOf(model: tf.LayersModel, xb: tf.Tensor, yb: tf.Tensor): tf.Scalar {
  const probs = model.apply(xb, { training: true }) as tf.Tensor;
  return tf.metrics.categoricalCrossentropy(yb, probs).mean() as tf.Scalar;
}

/**
 * Train `model` in place on `data` with mini-batch SGD (or the given optimizer).
 * The caller loads the starting weights first (they are the FedProx anchor).
 */
export async function trainLocal(model: tf.LayersModel, data: LabelledData, opts: LocalTrainingOptions): Promise<LocalTrainingResult> {
  aint('epochs', opts.epochs, 1);
  aint('batchSize', opts.batchSize, 1);
  const mu = opts.proximalMu ?? 0;
  anumber('proximalMu', mu, 0);
  if (data.n < 1) throw new InvalidArgument('trainLocal: no training examples');
  const rng = opts.rng ?? systemRandom;
  let optimizer: tf.Optimizer;
  if (opts.optimizer) optimizer = opts.optimizer();
  else {
    const lr = opts.learningRate ?? 0.05;
    apositive('learningRate', lr);
    optimizer = tf.train.sgd(lr);
  }
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  // FedProx anchor: a copy of the starting weights, disposed in `finally`.
  const anchor = mu > 0 ? vars.map((v) => tf.clone(v)) : [];
  const xs = tf.tensor(data.xs, [data.n, ...(data.shape ?? [data.features])]);
  const ys = tf.tidy(() => tf.oneHot(tf.tensor1d(data.labels, 'int32'), data.classes).toFloat());
  const order = new Int32Array(data.n);
  for (let i = 0; i < data.n; i++) order[i] = i;
  let steps = 0;
  let lastLoss = 0;
  try {
    for (let e = 0; e < opts.epochs; e++) {
      shuffleInPlace(order, rng);
      const losses: tf.Scalar[] = [];
      for (let start = 0; start < data.n; start += opts.batchSize) {
        const idx = order.subarray(start, Math.min(data.n, start + opts.batchSize));
        const cost = tf.tidy(() => {
          const it = tf.tensor1d(idx, 'int32');
          const xb = tf.gather(xs, it);
          const yb = tf.gather(ys, it);
          return optimizer.minimize(() => {
            const base = lossOf(model, xb, yb);
            if (mu === 0) return base;
            const prox = tf.addN(vars.map((v, i) => tf.sum(tf.square(tf.sub(v, anchor[i]!)))));
            return tf.add(base, tf.mul(mu / 2, prox)) as tf.Scalar;
          }, true, vars) as tf.Scalar;
        });
        losses.push(cost);
        steps++;
      }
      const total = tf.tidy(() => (losses.length ? tf.addN(losses).div(losses.length) : tf.scalar(0)));
      lastLoss = (await total.data())[0]!;
      total.dispose();
      tf.dispose(losses);
    }
  } finally {
    xs.dispose();
    ys.dispose();
    tf.dispose(anchor);
    optimizer.dispose();
  }
  return Object.freeze({ loss: lastLoss, steps });
}

/** Correct top-1 predictions of `model` on `data`, in batches of `batchSize`. */
export function countCorrect(model: tf.LayersModel, data: LabelledData, batchSize = 1000): number {
  let correct = 0;
  for (let start = 0; start < data.n; start += batchSize) {
    const end = Math.min(data.n, start + batchSize);
    const pred = tf.tidy(() => {
      const x = tf.tensor(data.xs.subarray(start * data.features, end * data.features), [end - start, ...(data.shape ?? [data.features])]);
      return (model.predict(x) as tf.Tensor).argMax(-1);
    });
    const p = pred.dataSync();
    pred.dispose();
    for (let i = 0; i < p.length; i++) if (p[i] === data.labels[start + i]) correct++;
  }
  return correct;
}

/** Top-1 accuracy of `model` on `data`, in batches of `batchSize`. */
export function evaluateAccuracy(model: tf.LayersModel, data: LabelledData, batchSize = 1000): number {
  if (data.n < 1) throw new InvalidArgument('evaluateAccuracy: no examples');
  return countCorrect(model, data, batchSize) / data.n;
}
