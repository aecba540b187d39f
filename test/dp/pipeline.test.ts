/**
 * planDistributedDp + privatizeUpdate + decodeAggregate end to end, with the
 * modular sum of secure aggregation simulated by addModInto.
 *
 * Statistical checks use fixed deterministicRandom seeds (deterministic);
 * each tolerance is at least 4.5 standard errors of the estimate, i.e. a false
 * failure rate below 1e-5 for a fresh seed.
 */
import { describe, expect, test } from '@jest/globals';
import { deterministicRandom } from '../../src/crypto/random.js';
import { addModInto, centre, clipL2, rotate } from '../../src/encode/index.js';
import { planDistributedDp, planRound, type DistributedDpPlan, type DistributedDpRequest } from '../../src/dp/plan.js';
import { decodeAggregate, privatizeUpdate } from '../../src/dp/pipeline.js';
import { distributedRdp } from '../../src/dp/distributed-rdp.js';
import { InfeasibleParameters, InvalidArgument } from '../../src/errors.js';
import { expectFedveilError } from '../expect-error.js';

function randomUpdate(d: number, norm: number, rng: ReturnType<typeof deterministicRandom>): Float32Array {
  const w = new Uint32Array(d);
  rng.fill(new Uint8Array(w.buffer));
  const u = new Float32Array(d);
  let n2 = 0;
  for (let i = 0; i < d; i++) {
    u[i] = w[i]! / 2 ** 32 - 0.5;
    n2 += u[i]! * u[i]!;
  }
  const f = norm / Math.sqrt(n2);
  for (let i = 0; i < d; i++) u[i] = u[i]! * f;
  return u;
}

const base: DistributedDpRequest = { clipNorm: 1, noiseMultiplier: 1, expectedClients: 20, minClients: 10, dim: 2000, bits: 20, mechanism: 'ddg' };

describe('planDistributedDp', () => {
  for (const mechanism of ['ddg', 'skellam'] as const) {
    test(`${mechanism}: frozen plan, I6 calibration, overflow bound met, ledger event`, () => {
      const plan = planDistributedDp({ ...base, mechanism, samplingRate: 0.05 }, deterministicRandom(1));
      expect(Object.isFrozen(plan)).toBe(true);
      expect(Object.isFrozen(plan.rounding)).toBe(true);
      expect(plan.paddedDim).toBe(2048);
      expect(plan.rotation.seed).toHaveLength(32);
      expect(plan.overflow.probabilityBound).toBeLessThanOrEqual(plan.overflow.requested * (1 + 1e-9));
      // I6: t clients' local variances add up to the central target
      const local = plan.localNoise.kind === 'discrete_gaussian' ? plan.localNoise.sigma ** 2 : 2 * plan.localNoise.mu;
      expect(local * plan.minClients).toBeCloseTo(plan.targetCentralVariance, 3);
      expect(plan.targetCentralVariance).toBeCloseTo((plan.noiseMultiplier * plan.clipNorm * plan.scale) ** 2, 3);
      expect(plan.event.type).toBe('poisson_sampled');
      const inner = plan.event.type === 'poisson_sampled' ? plan.event.event : plan.event;
      expect(inner.type).toBe(mechanism === 'ddg' ? 'discrete_gaussian' : 'skellam');
      expect(inner.clients).toBe(10);
      expect(inner.dimension).toBe(2048);
      expect(inner.l2Sensitivity).toBeCloseTo(plan.rounding.normBound, 9);
      expect(Number.isFinite(distributedRdp(plan.event, [2, 8, 32])[2]!)).toBe(true);
    });
  }

  test('the documented call shape works: mechanism defaults to ddg', () => {
    const { mechanism, ...rest } = base;
    void mechanism;
    const plan = planDistributedDp(rest, deterministicRandom(12));
    expect(plan.mechanism).toBe('ddg');
    expect(plan.localNoise.kind).toBe('discrete_gaussian');
  });

  test('more bits allow a larger scale', () => {
    const a = planDistributedDp({ ...base, bits: 16 }, deterministicRandom(1));
    const b = planDistributedDp({ ...base, bits: 24 }, deterministicRandom(1));
    expect(b.scale / a.scale).toBeGreaterThan(200);
  });

  test('infeasible requests are typed errors that name the knob', () => {
    const tooFew = () => planDistributedDp({ ...base, expectedClients: 1000, minClients: 500, dim: 1_000_000, bits: 12 });
    const e = expectFedveilError(tooFew, InfeasibleParameters, 'INFEASIBLE_PARAMETERS');
    // InfeasibleParameters says which knob to turn (its documented contract).
    expect(e.message).toMatch(/raise bits to >= \d+/);
    expectFedveilError(() => planDistributedDp({ ...base, bits: 4, expectedClients: 20 }), InfeasibleParameters, 'INFEASIBLE_PARAMETERS');
    expectFedveilError(() => planDistributedDp({ ...base, scale: 1e9 }), InfeasibleParameters, 'INFEASIBLE_PARAMETERS');
  });

  test('invalid requests are InvalidArgument', () => {
    for (const bits of [1, 33, 16.5]) expectFedveilError(() => planDistributedDp({ ...base, bits }), InvalidArgument, 'INVALID_ARGUMENT');
    expectFedveilError(() => planDistributedDp({ ...base, minClients: 30 }), InvalidArgument, 'INVALID_ARGUMENT');
    expectFedveilError(() => planDistributedDp({ ...base, clipNorm: -1 }), InvalidArgument, 'INVALID_ARGUMENT');
    expectFedveilError(() => planDistributedDp({ ...base, mechanism: 'laplace' as 'ddg' }), InvalidArgument, 'INVALID_ARGUMENT');
    expectFedveilError(() => planDistributedDp({ ...base, rotationSeed: new Uint8Array(16) }), InvalidArgument, 'INVALID_ARGUMENT');
    expectFedveilError(() => planDistributedDp({ ...base, maxClients: 5 }), InvalidArgument, 'INVALID_ARGUMENT');
  });

  test('planRound draws a fresh public seed and keeps everything else', () => {
    const p = planDistributedDp(base, deterministicRandom(2));
    const q = planRound(p, undefined, deterministicRandom(3));
    expect(q.rotation.seed).not.toEqual(p.rotation.seed);
    expect({ ...q, rotation: undefined }).toEqual({ ...p, rotation: undefined });
  });
});

function runRound(plan: DistributedDpPlan, updates: Float32Array[], seed: number): Uint32Array {
  const rng = deterministicRandom(seed);
  const acc = new Uint32Array(plan.paddedDim);
  for (const u of updates) addModInto(acc, privatizeUpdate(u, plan, rng), plan.bits);
  return acc;
}

describe('privatize -> modular sum -> decode', () => {
  for (const mechanism of ['ddg', 'skellam'] as const) {
    test(`${mechanism}: decoded mean error matches the predicted noise std within 10%`, () => {
      const plan = planDistributedDp({ ...base, mechanism }, deterministicRandom(4));
      const n = 20;
      const d = plan.dim;
      const rng = deterministicRandom(5);
      const updates = Array.from({ length: n }, () => randomUpdate(d, 0.9, rng));
      const mean = new Float64Array(d);
      for (const u of updates) for (let i = 0; i < d; i++) mean[i]! += u[i]! / n;
      const out = decodeAggregate(runRound(plan, updates, 6), plan, n);
      let se = 0;
      for (let i = 0; i < d; i++) se += (out[i]! - mean[i]!) ** 2;
      const rmse = Math.sqrt(se / d);
      // n clients each add the local variance (target / t); rounding adds < n/4 per coordinate
      const predicted = Math.sqrt((plan.targetCentralVariance * n) / plan.minClients) / plan.scale / n;
      // relative se of an rms over d = 2000 iid coordinates ~ 1/sqrt(2d) = 1.6%
      expect(Math.abs(rmse / predicted - 1)).toBeLessThan(0.1);
    });
  }

  test('exactly t survivors: the noise variance in the sum is at least the target (I6)', () => {
    for (const mechanism of ['ddg', 'skellam'] as const) {
      const plan = planDistributedDp({ ...base, dim: 8192, mechanism }, deterministicRandom(7));
      const zeros = Array.from({ length: plan.minClients }, () => new Float32Array(plan.dim));
      // zero updates round to zero exactly: the centred sum is pure noise of t clients
      const noise = centre(runRound(plan, zeros, 8), plan.bits);
      let v = 0;
      for (const x of noise) v += x * x;
      v /= noise.length;
      // sd of the variance estimate ~ sqrt(2/8192) = 1.6%: allow 5 sd below the target
      expect(v).toBeGreaterThan(plan.targetCentralVariance * (1 - 5 * Math.sqrt(2 / noise.length)));
      expect(Math.abs(v / plan.targetCentralVariance - 1)).toBeLessThan(5 * Math.sqrt(2 / noise.length));
    }
  });

  test('empirical modular-overflow rate stays below the planned bound (and a too-large scale does overflow)', () => {
    const req: DistributedDpRequest = { clipNorm: 1, noiseMultiplier: 0.5, expectedClients: 8, minClients: 4, dim: 60, bits: 10, mechanism: 'ddg', overflowProbability: 0.05, maxSensitivityInflation: 10 };
    const plan = planDistributedDp(req, deterministicRandom(9));
    const rng = deterministicRandom(10);
    const rounds = 200;
    const overflowed = (p: DistributedDpPlan, r: number): boolean => {
      const updates = Array.from({ length: 8 }, () => randomUpdate(p.dim, 1, rng));
      const sum = centre(runRound(p, updates, 1000 + r), p.bits);
      // the unwrapped signal: sum of scaled, rotated, clipped updates
      const expected = new Float64Array(p.paddedDim);
      for (const u of updates) {
        const y = rotate(clipL2(u, p.clipNorm).clipped, p.rotation.seed);
        for (let i = 0; i < y.length; i++) expected[i]! += y[i]! * p.scale;
      }
      // residual = rounding + noise unless a coordinate wrapped (then off by ~2^b)
      for (let i = 0; i < sum.length; i++) if (Math.abs(sum[i]! - expected[i]!) > 2 ** (p.bits - 2)) return true;
      return false;
    };
    let wraps = 0;
    for (let r = 0; r < rounds; r++) if (overflowed(plan, r)) wraps++;
    expect(wraps / rounds).toBeLessThanOrEqual(plan.overflow.probabilityBound);
    const reckless = { ...plan, scale: plan.scale * 8, rounding: { ...plan.rounding, normBound: plan.rounding.normBound * 8 + Math.sqrt(plan.paddedDim) } };
    let recklessWraps = 0;
    for (let r = 0; r < 20; r++) if (overflowed(reckless, r)) recklessWraps++;
    expect(recklessWraps).toBeGreaterThan(0);
  });

  test('decode validates its inputs', () => {
    const plan = planDistributedDp(base, deterministicRandom(11));
    expectFedveilError(() => decodeAggregate(new Uint32Array(5), plan, 1), InvalidArgument, 'INVALID_ARGUMENT');
    expectFedveilError(() => decodeAggregate(new Uint32Array(plan.paddedDim), plan, 0), InvalidArgument, 'INVALID_ARGUMENT');
    expectFedveilError(() => privatizeUpdate(new Float32Array(3), plan), InvalidArgument, 'INVALID_ARGUMENT');
    const bad = new Float32Array(plan.dim);
    bad[7] = Number.NaN;
    expectFedveilError(() => privatizeUpdate(bad, plan), InvalidArgument, 'INVALID_ARGUMENT');
  });
});
