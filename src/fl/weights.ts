/**
 * Flatten a tfjs model's trainable weights into one Float32Array and back.
 *
 * The order is `model.trainableWeights` order (layer by layer, kernel then
 * bias), which is the same on every client that builds the model with the
 * same factory; the shapes are recorded so a flat vector can be checked and
 * split. Values are COPIED out (`dataSync` returns a fresh array for
 * weights) and new tensors are written in with `variable.assign`, so the
 * tensors tfjs owns are never handed out or disposed by us.
 */
import * as tf from '@tensorflow/tfjs';
import { InvalidArgument } from '../errors.js';

export interface WeightSpec {
  readonly name: string;
  readonly shape: readonly number[];
  readonly size: number;
}

/** The shapes and sizes of a model's trainable weights, in flattening order. */
export function weightSpecs(model: tf.LayersModel): WeightSpec[] {
  return model.trainableWeights.map((w) => {
    const shape = w.shape.map((s) => {
      if (s === null) throw new InvalidArgument(`weight ${w.name} has an unknown dimension`);
      return s;
    });
    return Object.freeze({ name: w.name, shape: Object.freeze(shape), size: shape.reduce((a, b) => a * b, 1) });
  });
}

/** Total number of trainable parameters. */
export function parameterCount(model: tf.LayersModel): number {
  return weightSpecs(model).reduce((a, s) => a + s.size, 0);
}

/** All trainable weights, concatenated into a fresh Float32Array. */
export function flattenWeights(model: tf.LayersModel): Float32Array {
  const specs = weightSpecs(model);
  const out = new Float32Array(specs.reduce((a, s) => a + s.size, 0));
  let off = 0;
  model.trainableWeights.forEach((w, i) => {
    // w.read() returns the variable itself (not a copy): never dispose it.
    const values = w.read().dataSync();
    out.set(values, off);
    off += specs[i]!.size;
  });
  return out;
}

/** Write a flat vector (as produced by {@link flattenWeights}) into the model's trainable weights. */
export function setFlatWeights(model: tf.LayersModel, flat: Float32Array): void {
  if (!(flat instanceof Float32Array)) throw new InvalidArgument('setFlatWeights: expected a Float32Array');
  const specs = weightSpecs(model);
  const total = specs.reduce((a, s) => a + s.size, 0);
  if (flat.length !== total) throw new InvalidArgument(`setFlatWeights: vector has ${flat.length} values, model has ${total} trainable parameters`);
  let off = 0;
  model.trainableWeights.forEach((w, i) => {
    const spec = specs[i]!;
    // `write` assigns into the existing variable and disposes only our temporary.
    const t = tf.tensor(flat.subarray(off, off + spec.size), spec.shape as number[], 'float32');
    w.write(t);
    t.dispose();
    off += spec.size;
  });
}

/** Split a flat vector into one Float32Array per weight (views, no copy). */
export function unflattenWeights(flat: Float32Array, specs: readonly WeightSpec[]): Float32Array[] {
  const total = specs.reduce((a, s) => a + s.size, 0);
  if (flat.length !== total) throw new InvalidArgument(`unflattenWeights: vector has ${flat.length} values, specs need ${total}`);
  const parts: Float32Array[] = [];
  let off = 0;
  for (const s of specs) {
    parts.push(flat.subarray(off, off + s.size));
    off += s.size;
  }
  return parts;
}
