// The encode layer end to end, as in docs/encode.md: clients clip, rotate,
// scale, round, wrap and pack; the server unpacks, sums mod 2^b, centres,
// unscales and unrotates. Without DP noise or masks the decoded mean must
// equal the true mean of the clipped updates up to the rounding error.
import { deterministicRandom } from '../../src/crypto/random.js';
import {
  addModInto, centre, clipL2, l2Norm, packBits, paddedLength, rotate, scale, stochasticRound, unpackBits, unrotate, wrap,
} from '../../src/encode/index.js';

test('client encode -> modular sum -> server decode recovers the mean of the clipped updates', () => {
  const d = 3000;
  const clients = 5;
  const bits = 20;
  const s = 2 ** 10;
  const D = paddedLength(d);
  const seed = Uint8Array.from({ length: 32 }, (_, i) => i);
  const rng = deterministicRandom(11);
  const updates = Array.from({ length: clients }, (_, c) => Float32Array.from({ length: d }, (_, i) => Math.sin(i * (c + 1)) * (c + 1) * 0.05));
  const exactMean = new Float64Array(d);
  const wires = updates.map((u) => {
    const { clipped } = clipL2(u, 1);
    for (let i = 0; i < d; i++) exactMean[i] = exactMean[i]! + clipped[i]! / clients;
    return packBits(wrap(stochasticRound(scale(rotate(clipped, seed), s), rng), bits), bits);
  });
  expect(wires[0]!.length).toBe(Math.ceil((D * bits) / 8));

  const sum = new Uint32Array(D);
  const scratch = new Uint32Array(D);
  for (const bytes of wires) addModInto(sum, unpackBits(bytes, bits, D, scratch), bits);
  const mean = scale(unrotate(scale(centre(sum, bits), 1 / s), seed, d), 1 / clients);

  const err = new Float64Array(d);
  for (let i = 0; i < d; i++) err[i] = mean[i]! - exactMean[i]!;
  // Rounding adds independent errors of variance <= 1/4 per coordinate and
  // client; after unscaling the mean's error has norm <= sqrt(D * clients / 4)
  // / (s * clients) in expectation (rotation preserves norms). Allow 2x.
  const bound = (2 * Math.sqrt((D * clients) / 4)) / (s * clients);
  expect(l2Norm(err)).toBeLessThan(bound);
  expect(l2Norm(err)).toBeGreaterThan(0);
});
