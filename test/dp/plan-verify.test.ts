/**
 * verifyPlan as the client's defence against a malicious coordinator: every
 * check is fed exactly the malicious plan it exists for, and the test
 * asserts the error class, its code and the policy field it names.
 */
import { describe, expect, test } from '@jest/globals';
import { deterministicRandom } from '../../src/crypto/random.js';
import { logOverflowBound, planDistributedDp, type DistributedDpPlan, type DistributedDpRequest } from '../../src/dp/plan.js';
import { DEFAULT_DP_FLOOR, planHash, unamplifiedEvent, verifyPlan, type DpFloor, type PlanVerifyContext } from '../../src/dp/plan-verify.js';
import { distributedEvent, roundedL2Bound } from '../../src/dp/distributed-rdp.js';
import { computeEpsilon } from '../../src/dp/accountant.js';
import { Packr } from 'msgpackr';
import { FedveilError, InvalidArgument, InvalidMessage, PolicyViolation } from '../../src/errors.js';
import { thrown } from '../expect-error.js';

const request: DistributedDpRequest = { clipNorm: 1, noiseMultiplier: 1, expectedClients: 20, minClients: 10, colluders: 2, dim: 2000, bits: 20, mechanism: 'ddg' };
const ctx: PlanVerifyContext = { threshold: 10, colluders: 2, dim: 2000, bits: 20 };
const honest = planDistributedDp(request, deterministicRandom(1));

type Json = Record<string, unknown>;

/** A mutable deep copy of a plan (what a malicious coordinator edits before sending). */
function copy(plan: DistributedDpPlan): Json {
  return structuredClone(plan) as unknown as Json;
}

/** Set `path` (dot-separated) of a copy of `plan` to `value`. */
function withField(plan: DistributedDpPlan, path: string, value: unknown): Json {
  const out = copy(plan);
  const keys = path.split('.');
  let o = out;
  for (const k of keys.slice(0, -1)) o = o[k] as Json;
  o[keys[keys.length - 1]!] = value;
  return out;
}

function getField(plan: DistributedDpPlan, path: string): unknown {
  let o: unknown = plan;
  for (const k of path.split('.')) o = (o as Json)[k];
  return o;
}


function expectViolation(fn: () => unknown, field: string): void {
  const e = thrown(fn);
  expect(e).toBeInstanceOf(PolicyViolation);
  expect((e as PolicyViolation).code).toBe('POLICY_VIOLATION');
  expect((e as PolicyViolation).field).toBe(field);
}

function expectInvalidMessage(fn: () => unknown): void {
  const e = thrown(fn);
  expect(e).toBeInstanceOf(InvalidMessage);
  expect((e as InvalidMessage).code).toBe('INVALID_MESSAGE');
}

/**
 * A self-consistent plan at scale s, every derived field recomputed as the
 * planner would (what a coordinator that bypasses the planner's own checks sends).
 */
function forgeAtScale(plan: DistributedDpPlan, s: number): DistributedDpPlan {
  const cs = plan.clipNorm * s;
  const normBound = roundedL2Bound(cs, plan.paddedDim, plan.rounding.beta);
  const event = distributedEvent({ mechanism: plan.mechanism, clipNorm: plan.clipNorm, noiseMultiplier: plan.noiseMultiplier, scale: s, dimension: plan.paddedDim, minClients: plan.honestMinimum, beta: plan.rounding.beta });
  const localNoise = event.type === 'discrete_gaussian' ? { kind: 'discrete_gaussian' as const, sigma: event.sigma } : { kind: 'skellam' as const, mu: event.mu };
  const variance = event.type === 'discrete_gaussian' ? event.sigma ** 2 : 2 * event.mu;
  const bound = Math.exp(logOverflowBound({ mechanism: plan.mechanism, clipNorm: plan.clipNorm, bits: plan.bits, n: plan.maxClients, N: plan.paddedDim }, s, variance));
  return {
    ...plan, scale: s, rounding: { ...plan.rounding, normBound }, localNoise, targetCentralVariance: (plan.noiseMultiplier * plan.clipNorm * s) ** 2,
    overflow: { ...plan.overflow, probabilityBound: bound }, sensitivityInflation: normBound / cs, event,
  };
}

const verify = (p: unknown, c: PlanVerifyContext = ctx, floor: DpFloor = DEFAULT_DP_FLOOR) => verifyPlan(p, floor, c);

describe('verifyPlan accepts honest plans', () => {
  for (const mechanism of ['ddg', 'skellam'] as const) {
    for (const samplingRate of [undefined, 0.05]) {
      test(`${mechanism}${samplingRate ? ', poisson-sampled event' : ''}: an honest planner's plan passes, as a frozen copy with the same hash`, () => {
        const plan = planDistributedDp({ ...request, mechanism, samplingRate }, deterministicRandom(2));
        const wire = copy(plan); // as decoded from the wire: plain, unfrozen
        const v = verify(wire);
        expect(v).not.toBe(wire);
        expect(Object.isFrozen(v) && Object.isFrozen(v.rounding) && Object.isFrozen(v.localNoise) && Object.isFrozen(v.event)).toBe(true);
        expect(v.rotation.seed).toEqual(plan.rotation.seed);
        expect(v.rotation.seed).not.toBe((wire.rotation as Json).seed);
        expect(v).toEqual(plan);
        expect(planHash(v)).toEqual(planHash(plan));
      });
    }
  }

  test('a plan calibrated for fewer honest clients than t - g (more noise each) passes', () => {
    const plan = planDistributedDp({ ...request, colluders: 5 }, deterministicRandom(3));
    expect(plan.honestMinimum).toBe(5);
    expect(() => verify(plan)).not.toThrow();
  });

  test('a plan that crossed the wire encoding (msgpack, as the transport packs it) verifies and hashes the same', () => {
    const packr = new Packr({ useRecords: false, mapsAsObjects: true, moreTypes: false, int64AsType: 'number' });
    for (const p of [honest, planDistributedDp({ ...request, mechanism: 'skellam', samplingRate: 0.1 }, deterministicRandom(7))]) {
      const v = verify(packr.unpack(packr.pack(p)));
      expect(planHash(v)).toEqual(planHash(p));
    }
  });

  test('a rotation seed delivered as a Node Buffer is accepted and hashes like the bytes', () => {
    const wire = withField(honest, 'rotation.seed', Buffer.from(honest.rotation.seed));
    const v = verify(wire);
    expect(v.rotation.seed).toBeInstanceOf(Uint8Array);
    expect(planHash(v)).toEqual(planHash(honest));
  });
});

describe('the honest-minimum calibration of the planner', () => {
  test('local variance is (z C s)^2 / (t - g), the event counts t - g contributors, the overflow bound every summand', () => {
    const p = honest;
    expect(p.colluders).toBe(2);
    expect(p.honestMinimum).toBe(8);
    const sigma = p.localNoise.kind === 'discrete_gaussian' ? p.localNoise.sigma : NaN;
    expect(sigma * sigma * 8).toBeCloseTo(p.targetCentralVariance, 6);
    expect(unamplifiedEvent(p).clients).toBe(8);
    // colluders = 0 is the old calibration, same scale (the overflow bound counts maxClients summands, each with less noise)
    const g0 = planDistributedDp({ ...request, colluders: undefined }, deterministicRandom(1));
    expect(g0.colluders).toBe(0);
    expect(g0.honestMinimum).toBe(10);
    expect(g0.scale).toBeGreaterThan(p.scale);
  });

  test('colluders >= minClients (no honest client left) is InvalidArgument', () => {
    for (const colluders of [10, 11, -1, 1.5]) {
      const e = thrown(() => planDistributedDp({ ...request, colluders }));
      expect(e).toBeInstanceOf(InvalidArgument);
      expect((e as FedveilError).code).toBe('INVALID_ARGUMENT');
    }
  });
});

describe('verifyPlan refuses the attacks', () => {
  test('the red-team plan: local sigma 1e-9 under an honest-looking event of sigma ~6e5', () => {
    const big = planDistributedDp({ ...request, bits: 32, expectedClients: 10, minClients: 10, colluders: 0, dim: 1000 }, deterministicRandom(4));
    const attack = withField(big, 'localNoise.sigma', 1e-9);
    const ev = unamplifiedEvent(big);
    expect(ev.type === 'discrete_gaussian' && ev.sigma).toBeGreaterThan(1e5);
    expectViolation(() => verify(attack, { threshold: 10, colluders: 0, dim: 1000, bits: 32 }), 'dp.localNoise');
  });

  test('a plan calibrated for all t clients when the client assumes g colluders (claims more honest clients than t - g)', () => {
    const forT = planDistributedDp({ ...request, colluders: 0 }, deterministicRandom(1));
    expectViolation(() => verify(forT), 'dp.honestMinimum');
  });

  test('a plan that claims t - g honest clients but whose local noise is calibrated for t', () => {
    const forT = planDistributedDp({ ...request, colluders: 0 }, deterministicRandom(1));
    const attack = withField(honest, 'localNoise', forT.localNoise);
    expectViolation(() => verify(attack), 'dp.localNoise');
  });

  test('a plan whose honestMinimum contradicts minClients - colluders', () => {
    expectViolation(() => verify(withField(honest, 'honestMinimum', 7)), 'dp.honestMinimum');
    expectViolation(() => verify(withField(honest, 'colluders', 0)), 'dp.honestMinimum');
  });

  test('a round whose threshold t leaves no honest client after g colluders', () => {
    expectViolation(() => verify(honest, { ...ctx, threshold: 2, colluders: 2 }), 'dp.honestMinimum');
  });

  test('a clip above the floor', () => {
    const plan = planDistributedDp({ ...request, clipNorm: 20 }, deterministicRandom(5));
    expectViolation(() => verify(plan), 'dp.maxClip');
  });

  test('a noise multiplier below the floor', () => {
    const plan = planDistributedDp({ ...request, noiseMultiplier: 0.3 }, deterministicRandom(5));
    expectViolation(() => verify(plan), 'dp.minNoiseMultiplier');
  });

  test('a mechanism the floor or the round does not allow', () => {
    const sk = planDistributedDp({ ...request, mechanism: 'skellam' }, deterministicRandom(5));
    expectViolation(() => verify(sk, ctx, { ...DEFAULT_DP_FLOOR, mechanism: 'ddg' }), 'dp.mechanism');
    expectViolation(() => verify(sk, { ...ctx, mechanism: 'ddg' }), 'dp.mechanism');
    expectViolation(() => verify(withField(honest, 'mechanism', 'gaussian')), 'dp.mechanism');
  });

  test('local noise of the other mechanism than the plan names', () => {
    const sk = planDistributedDp({ ...request, mechanism: 'skellam' }, deterministicRandom(5));
    expectViolation(() => verify(withField(honest, 'localNoise', sk.localNoise)), 'dp.localNoise');
  });

  test('a ddg local sigma below 1/2 (outside Theorem 1), even in a self-consistent plan at a tiny scale', () => {
    const tiny = forgeAtScale(honest, 1e-3);
    expect(tiny.localNoise.kind === 'discrete_gaussian' && tiny.localNoise.sigma).toBeLessThan(0.5);
    // the forged plan is otherwise consistent: with sigma >= 1/2 dropped, only the inflation floor would catch it
    expectViolation(() => verify(tiny, ctx, { ...DEFAULT_DP_FLOOR, maxSensitivityInflation: 1e6 }), 'dp.localNoise');
  });

  test('a scale so small that rounding inflates the sensitivity past the floor', () => {
    const small = planDistributedDp({ ...request, mechanism: 'skellam', scale: 0.5, maxSensitivityInflation: 1e6 }, deterministicRandom(5));
    expect(small.sensitivityInflation).toBeGreaterThan(2);
    expectViolation(() => verify(small), 'dp.sensitivityInflation');
    expect(() => verify(small, ctx, { ...DEFAULT_DP_FLOOR, maxSensitivityInflation: 1e6 })).not.toThrow();
  });

  test('a self-consistent plan at another scale passes: the scale is public and everything is recomputed from it', () => {
    expect(() => verify(forgeAtScale(honest, honest.scale / 2))).not.toThrow();
  });

  describe('an event that does not match the parameters', () => {
    const ev = unamplifiedEvent(honest);
    const cases: [string, unknown][] = [
      ['more noise than added', { ...ev, sigma: (ev as { sigma: number }).sigma * 1.01 }],
      ['more contributors', { ...ev, clients: ev.clients + 1 }],
      ['smaller L2 sensitivity', { ...ev, l2Sensitivity: ev.l2Sensitivity * 0.99 }],
      ['smaller L1 sensitivity', { ...ev, l1Sensitivity: ev.l1Sensitivity * 0.99 }],
      ['fewer dimensions', { ...ev, dimension: 1024 }],
      ['a Skellam event under ddg', distributedEvent({ mechanism: 'skellam', clipNorm: 1, noiseMultiplier: 1, scale: honest.scale, dimension: 2048, minClients: 8, beta: honest.rounding.beta })],
      ['a free event: self_composed 0 times', { type: 'self_composed', count: 0, event: ev }],
      ['a central Gaussian event', { type: 'gaussian', noiseMultiplier: 100 }],
      ['a poisson_sampled wrapper around a mismatched event', { type: 'poisson_sampled', samplingProbability: 1e-6, event: { ...ev, clients: 100 } }],
    ];
    for (const [name, event] of cases) {
      test(name, () => expectViolation(() => verify(withField(honest, 'event', event)), 'dp.event'));
    }
  });

  test('a poisson_sampled wrapper claiming amplification passes but is never believed: the client accounts the inner event', () => {
    const wrapped = withField(honest, 'event', { type: 'poisson_sampled', samplingProbability: 1e-6, event: unamplifiedEvent(honest) });
    const v = verify(wrapped);
    expect(v.event.type).toBe('poisson_sampled');
    const inner = unamplifiedEvent(v);
    expect(inner).toEqual(unamplifiedEvent(honest));
    const claimed = computeEpsilon(v.event, 1e-5).epsilon;
    const accounted = computeEpsilon(inner, 1e-5).epsilon;
    expect(accounted).toBeGreaterThan(100 * claimed);
  });

  test('dim different from the model, paddedDim not the power of two or not the round length', () => {
    expectViolation(() => verify(honest, { ...ctx, dim: 1999 }), 'dp.dim');
    expectViolation(() => verify(withField(honest, 'paddedDim', 4096)), 'dp.paddedDim');
    expectViolation(() => verify(honest, { ...ctx, paddedDim: 4096 }), 'dp.paddedDim');
  });

  test('bits different from the round or outside the floor', () => {
    expectViolation(() => verify(honest, { ...ctx, bits: 24 }), 'dp.bits');
    expectViolation(() => verify(honest, ctx, { ...DEFAULT_DP_FLOOR, minBits: 24 }), 'dp.bits');
    expectViolation(() => verify(honest, ctx, { ...DEFAULT_DP_FLOOR, maxBits: 16 }), 'dp.bits');
  });

  test('a rounding norm bound above the one its scale and beta give (larger vectors than accounted)', () => {
    expectViolation(() => verify(withField(honest, 'rounding.normBound', honest.rounding.normBound * 1.5)), 'dp.rounding');
    expectViolation(() => verify(withField(honest, 'rounding.beta', 0.1)), 'dp.rounding');
  });

  test('a target central variance that is not (z C s)^2', () => {
    expectViolation(() => verify(withField(honest, 'targetCentralVariance', honest.targetCentralVariance * 100)), 'dp.targetCentralVariance');
  });

  test('an overflow bound above the requested probability, a false bound, or a roster larger than maxClients', () => {
    expectViolation(() => verify(withField(honest, 'overflow.requested', 1e-12)), 'dp.overflow');
    expectViolation(() => verify(withField(honest, 'overflow.probabilityBound', 1e-30)), 'dp.overflow');
    expectViolation(() => verify(withField(honest, 'maxClients', 40)), 'dp.overflow');
    expectViolation(() => verify(honest, { ...ctx, maxClients: 21 }), 'dp.maxClients');
  });
});

describe('a tiny change to any privacy-relevant field fails', () => {
  const sk = planDistributedDp({ ...request, mechanism: 'skellam' }, deterministicRandom(6));
  const numeric = (plan: DistributedDpPlan, noise: string): string[] => [
    'clipNorm', 'noiseMultiplier', 'dim', 'paddedDim', 'bits', 'scale', 'minClients', 'colluders', 'honestMinimum', 'maxClients',
    'rounding.beta', 'rounding.normBound', 'targetCentralVariance', 'sensitivityInflation', 'overflow.probabilityBound', 'overflow.requested',
    `event.${noise}`, 'event.clients', 'event.l2Sensitivity', 'event.l1Sensitivity', 'event.dimension',
  ].filter((p) => typeof getField(plan, p) === 'number');
  for (const [plan, noise] of [[honest, 'sigma'], [sk, 'mu']] as const) {
    for (const path of numeric(plan, noise)) {
      for (const dir of [1, -1]) {
        // overflow.requested may grow (a laxer request); everything else is pinned both ways
        if (path === 'overflow.requested' && dir === 1) continue;
        test(`${plan.mechanism}: ${path} ${dir > 0 ? 'up' : 'down'}`, () => {
          const v = getField(plan, path) as number;
          // beta enters only through sqrt(2 log(1/beta)): a 1e-6 change moves the norm bound by ~1e-11,
          // below the comparison tolerance and without effect on privacy, so it moves by 1% instead
          const rel = path === 'rounding.beta' ? 1e-2 : 1e-6;
          const changed = Number.isInteger(v) && !path.startsWith('rounding') ? v + dir : v * (1 + dir * rel);
          const e = thrown(() => verify(withField(plan, path, changed)));
          expect(e instanceof PolicyViolation || e instanceof InvalidMessage).toBe(true);
        });
      }
    }
    test(`${plan.mechanism}: local noise down by 1e-6`, () => {
      const v = getField(plan, `localNoise.${noise}`) as number;
      expectViolation(() => verify(withField(plan, `localNoise.${noise}`, v * (1 - 1e-6))), 'dp.localNoise');
    });
  }
});

describe('malformed plans are InvalidMessage', () => {
  const cases: [string, unknown][] = [
    ['clipNorm', Number.NaN], ['clipNorm', -1], ['clipNorm', '1'], ['clipNorm', Infinity], ['noiseMultiplier', 0], ['noiseMultiplier', null],
    ['dim', 2000.5], ['dim', -2000], ['paddedDim', '2048'], ['bits', 33], ['bits', 1], ['scale', Number.NaN], ['scale', -honest.scale],
    ['minClients', 0], ['colluders', -1], ['honestMinimum', 0], ['expectedClients', 5], ['maxClients', 19], ['version', 2],
    ['rounding.beta', 1], ['rounding.beta', -0.1], ['rounding.rule', 'none'], ['rounding', 'conditional'],
    ['localNoise.sigma', Number.NaN], ['localNoise.sigma', -1], ['localNoise.sigma', '606531'], ['localNoise.kind', 'laplace'],
    ['targetCentralVariance', Number.NaN], ['rotation.seed', new Uint8Array(16)], ['rotation.seed', Array.from(honest.rotation.seed)],
    ['rotation.policy', 'reuse'], ['overflow.probabilityBound', 2], ['overflow.requested', 0], ['sensitivityInflation', -2],
    ['event.sigma', Number.NaN], ['event.clients', 7.5], ['event.l2Sensitivity', '1'], ['event.dimension', 0], ['event.type', 7],
    ['event', null], ['mechanism', 3],
  ];
  for (const [path, value] of cases) {
    test(`${path} = ${typeof value === 'string' ? JSON.stringify(value) : ArrayBuffer.isView(value) ? 'Uint8Array(16)' : Array.isArray(value) ? 'number[]' : String(value)}`, () => {
      expectInvalidMessage(() => verify(withField(honest, path, value)));
    });
  }

  test('missing fields, unknown fields, non-objects', () => {
    const missing = copy(honest);
    delete missing.honestMinimum;
    expectInvalidMessage(() => verify(missing));
    expectInvalidMessage(() => verify({ ...copy(honest), extra: 1 }));
    expectInvalidMessage(() => verify(withField(honest, 'event.extra', 1)));
    for (const v of [null, undefined, 'plan', 42, [honest]]) expectInvalidMessage(() => verify(v));
  });

  test('a bad floor or context is the caller\'s InvalidArgument', () => {
    for (const floor of [{ ...DEFAULT_DP_FLOOR, mechanism: 'laplace' }, { ...DEFAULT_DP_FLOOR, mechanism: [] }, { ...DEFAULT_DP_FLOOR, minNoiseMultiplier: Number.NaN }, { ...DEFAULT_DP_FLOOR, minBits: 20, maxBits: 10 }]) {
      const e = thrown(() => verify(honest, ctx, floor as DpFloor));
      expect(e).toBeInstanceOf(InvalidArgument);
    }
    for (const c of [{ ...ctx, threshold: 0 }, { ...ctx, colluders: -1 }, { ...ctx, dim: '2000' }, { ...ctx, bits: 40 }]) {
      const e = thrown(() => verify(honest, c as PlanVerifyContext));
      expect(e).toBeInstanceOf(InvalidArgument);
    }
  });
});

describe('planHash', () => {
  test('32 bytes, the same for equal plans, different when any field (seed, expectedClients, sampling) changes', () => {
    const h = planHash(honest);
    expect(h).toHaveLength(32);
    expect(planHash(verify(copy(honest)))).toEqual(h);
    const seed = Uint8Array.from(honest.rotation.seed);
    seed[0] = seed[0]! ^ 1;
    for (const [path, value] of [['rotation.seed', seed], ['expectedClients', 19], ['localNoise.sigma', 1], ['event.clients', 9]] as const) {
      expect(planHash(withField(honest, path, value) as unknown as DistributedDpPlan)).not.toEqual(h);
    }
    const sampled = planDistributedDp({ ...request, samplingRate: 0.5 }, deterministicRandom(1));
    expect(planHash(sampled)).not.toEqual(h);
  });
});
