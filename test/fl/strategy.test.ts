import { fedAvg, fedAdam, fedYogi } from '../../src/fl/strategy.js';
import { InvalidArgument } from '../../src/errors.js';
import { expectFedveilError } from '../expect-error.js';

const x = Float32Array.from([1, -2, 0.5]);
const d = Float32Array.from([0.1, -0.4, 0]);

test('FedAvg: x + eta * delta', () => {
  expect(Array.from(fedAvg().apply(x, d))).toEqual(Array.from(Float32Array.from([1.1, -2.4, 0.5])));
  const r = fedAvg({ serverLearningRate: 0.5 }).apply(x, d);
  expect(r[0]).toBeCloseTo(1.05, 6);
  expect(r[1]).toBeCloseTo(-2.2, 6);
  expectFedveilError(() => fedAvg().apply(x, new Float32Array(2)), InvalidArgument, 'INVALID_ARGUMENT');
  expectFedveilError(() => fedAvg().apply(x, Float32Array.from([NaN, 0, 0])), InvalidArgument, 'INVALID_ARGUMENT');
});

test('FedAdam: two steps against hand-computed values (Reddi et al. 2021, Alg. 2)', () => {
  const s = fedAdam({ serverLearningRate: 0.1, beta1: 0.9, beta2: 0.99, tau: 1e-3 });
  // step 1 on coordinate 0: m = 0.1*0.1 = 0.01; v = 0.99*1e-6 + 0.01*0.01 = 1.0099e-4
  const x1 = s.apply(x, d);
  const m1 = 0.01;
  const v1 = 0.99 * 1e-6 + 0.01 * 0.01;
  expect(x1[0]).toBeCloseTo(1 + (0.1 * m1) / (Math.sqrt(v1) + 1e-3), 5);
  // zero delta with zero history: v stays ~tau^2 decayed, m = 0: no move
  expect(x1[2]).toBeCloseTo(0.5, 7);
  // step 2 with the same delta
  const x2 = s.apply(x1, d);
  const m2 = 0.9 * m1 + 0.1 * 0.1;
  const v2 = 0.99 * v1 + 0.01 * 0.01;
  expect(x2[0]).toBeCloseTo(x1[0]! + (0.1 * m2) / (Math.sqrt(v2) + 1e-3), 5);
  s.reset();
  expect(s.apply(x, d)[0]).toBeCloseTo(x1[0]!, 6);
});

test('FedYogi: v moves by sign(v - delta^2) (hand-computed)', () => {
  const s = fedYogi({ serverLearningRate: 0.1 });
  const x1 = s.apply(x, d);
  // coordinate 1: delta = -0.4, delta^2 = 0.16 > v0 = 1e-6: v1 = 1e-6 + 0.01*0.16
  const m1 = 0.1 * -0.4;
  const v1 = 1e-6 + 0.01 * 0.16;
  expect(x1[1]).toBeCloseTo(-2 + (0.1 * m1) / (Math.sqrt(v1) + 1e-3), 5);
  // a second step with delta = 0: v - 0.01*0*sign(v) = v unchanged, m decays
  const x2 = s.apply(x1, new Float32Array(3));
  expect(x2[1]).toBeCloseTo(x1[1]! + (0.1 * 0.9 * m1) / (Math.sqrt(v1) + 1e-3), 5);
});
