// Synthetic data shared by the fl tests.
import { deterministicRandom } from '../../src/crypto/random.js';
import type { LabelledData } from '../../src/fl/mnist.js';

/** Linearly separable 2-class data in 6 dimensions: class = [w . x > 0]. */
export function separable(n: number, seed: number): LabelledData {
  const rng = deterministicRandom(seed);
  const raw = new Uint8Array(n * 6);
  rng.fill(raw);
  const w = [1, -1, 0.5, -0.5, 0.8, -0.3];
  const xs = new Float32Array(n * 6);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < 6; j++) {
      const v = raw[i * 6 + j]! / 127.5 - 1;
      xs[i * 6 + j] = v;
      s += w[j]! * v;
    }
    labels[i] = s > 0 ? 1 : 0;
  }
  return { xs, labels, features: 6, classes: 2, n };
}
