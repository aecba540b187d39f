/**
 * verifyPlan as the client's defence against a malicious coordinator: every
 * check is fed exactly the malicious plan it exists for, and the test
 * asserts the error class, its code and the policy field it names.
 */
import { describe, expect, test } from '@jest/globals';
import { deterministicRandom } from '../../src/crypto/random.js';
import { logOverflowBound, planDistributedDp, type DistributedDpPlan, type DistributedDpRequest } from '../../src/dp/plan.js';
import { DEFAULT_DP_FLOOR, planHash, unamplifiedEvent, unamplifiedRoundEvent, verifyPlan, type DpFloor, type PlanVerifyContext } from '../../src/dp/plan-verify.js';
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

describe('plans without adaptive clipping are unchanged', () => {
  test('planHash of plain plans is what it was before adaptive clipping existed (pinned)', () => {
    const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
    expect(hex(planHash(honest))).toBe('fcb406ad164571fbc13c4a898b691974d1a18f15e306e58da50c612f34be5336');
    expect(hex(planHash(planDistributedDp({ ...request, mechanism: 'skellam', samplingRate: 0.1 }, deterministicRandom(7))))).toBe('21435797ac58f5bfb3751492cb4e0ec133ec84ce49cd5c85ac2a57b08e40c69b');
    expect('adaptiveClipping' in honest).toBe(false);
    expect('adaptiveClipping' in verify(copy(honest))).toBe(false);
  });

  test('a plain plan with an explicit adaptiveClipping: undefined parses as the plain plan', () => {
    const v = verify({ ...copy(honest), adaptiveClipping: undefined });
    expect(planHash(v)).toEqual(planHash(honest));
  });

  test('ctx.vectorLength, when given, must be paddedDim', () => {
    expect(() => verify(honest, { ...ctx, vectorLength: honest.paddedDim })).not.toThrow();
    expectViolation(() => verify(honest, { ...ctx, vectorLength: honest.paddedDim + 1 }), 'dp.vectorLength');
  });
});

describe('verifyPlan and adaptive clipping (the count of clients at or below C)', () => {
  // sigma_b = 1.25 for 20 expected clients (the paper's m / 20 is 1); h = t - g = 8
  const adaptiveRequest: DistributedDpRequest = { ...request, adaptiveClipping: { countStddev: 1.25 } };
  const adaptive = planDistributedDp(adaptiveRequest, deterministicRandom(1));
  const vctx: PlanVerifyContext = { ...ctx, vectorLength: adaptive.paddedDim + 1 };
  const av = (p: unknown, c: PlanVerifyContext = vctx, floor: DpFloor = DEFAULT_DP_FLOOR) => verifyPlan(p, floor, c);
  /** The count section of an honest plan with another sigma_b (a self-consistent forgery: every derived field recomputed). */
  const sectionWith = (countStddev: number, countScale?: number): unknown =>
    copy(planDistributedDp({ ...request, adaptiveClipping: { countStddev, countScale } }, deterministicRandom(1))).adaptiveClipping;

  for (const mechanism of ['ddg', 'skellam'] as const) {
    test(`${mechanism}: an honest adaptive plan passes, as a frozen copy with the same hash (also through msgpack)`, () => {
      const plan = planDistributedDp({ ...adaptiveRequest, mechanism }, deterministicRandom(2));
      const v = av(copy(plan));
      expect(v).toEqual(plan);
      expect(planHash(v)).toEqual(planHash(plan));
      expect(Object.isFrozen(v.adaptiveClipping) && Object.isFrozen(v.adaptiveClipping!.event.events) && Object.isFrozen(v.adaptiveClipping!.layout)).toBe(true);
      const packr = new Packr({ useRecords: false, mapsAsObjects: true, moreTypes: false, int64AsType: 'number' });
      expect(planHash(av(packr.unpack(packr.pack(plan))))).toEqual(planHash(plan));
    });
  }

  test('the hash binds the count section: dropping it or changing sigma_b changes the hash', () => {
    const { adaptiveClipping: _dropped, ...stripped } = copy(adaptive);
    expect(planHash(stripped as unknown as DistributedDpPlan)).toEqual(planHash(planDistributedDp(request, deterministicRandom(1))));
    expect(planHash(stripped as unknown as DistributedDpPlan)).not.toEqual(planHash(adaptive));
    expect(planHash(withField(adaptive, 'adaptiveClipping', sectionWith(1.3)) as unknown as DistributedDpPlan)).not.toEqual(planHash(adaptive));
  });

  test('the client accounts the composed event, unamplified; a sampling wrapper on the update event is not believed', () => {
    const v = av(copy(adaptive));
    const e = unamplifiedRoundEvent(v);
    expect(e).toEqual({ type: 'composed', events: [unamplifiedRoundEvent(planDistributedDp(request, deterministicRandom(1))), v.adaptiveClipping!.countEvent] });
    expect(computeEpsilon(e, 1e-5).epsilon).toBeGreaterThan(computeEpsilon(v.event, 1e-5).epsilon);
    expect(() => unamplifiedEvent(v)).toThrow(InvalidArgument);
    const wrapped = av(withField(adaptive, 'event', { type: 'poisson_sampled', samplingProbability: 1e-6, event: adaptive.event }));
    expect(unamplifiedRoundEvent(wrapped)).toEqual(e);
  });

  describe('a malicious coordinator edits the honest plan', () => {
    test('count noise below the client\'s floor, every field made consistent: refused by dp.minCountStddev', () => {
      const forged = withField(adaptive, 'adaptiveClipping', sectionWith(0.2));
      // default floor: minCountStddev = minNoiseMultiplier / 2 = 0.25
      expectViolation(() => av(forged), 'dp.minCountStddev');
      expectViolation(() => av(withField(adaptive, 'adaptiveClipping', sectionWith(1)), vctx, { ...DEFAULT_DP_FLOOR, minCountStddev: 1.2 }), 'dp.minCountStddev');
      // it is the floor that refuses it: the same forgery passes a laxer floor (combined z 0.371)
      expect(() => av(forged, vctx, { ...DEFAULT_DP_FLOOR, minNoiseMultiplier: 0.3, minCountStddev: 0.1 })).not.toThrow();
    });

    test('the combined noise multiplier (Theorem 1) below the floor\'s z: refused by dp.minNoiseMultiplier', () => {
      const floor = { ...DEFAULT_DP_FLOOR, minNoiseMultiplier: 0.9 };
      expect(() => av(adaptive, vctx, floor)).not.toThrow(); // (1 + (2 * 1.25)^-2)^-1/2 = 0.928
      expectViolation(() => av(withField(adaptive, 'adaptiveClipping', sectionWith(1)), vctx, floor), 'dp.minNoiseMultiplier'); // 0.894
    });

    test('count noise lowered on the wire while the claims stay: dp.adaptiveClipping.localNoise', () => {
      const sigma = (adaptive.adaptiveClipping!.localNoise as { sigma: number }).sigma;
      expectViolation(() => av(withField(adaptive, 'adaptiveClipping.localNoise.sigma', sigma / 100)), 'dp.adaptiveClipping.localNoise');
      expectViolation(() => av(withField(adaptive, 'adaptiveClipping.localNoise.sigma', sigma * (1 - 1e-6))), 'dp.adaptiveClipping.localNoise');
      expectViolation(() => av(withField(adaptive, 'adaptiveClipping.localNoise', { kind: 'skellam', mu: 1e6 })), 'dp.adaptiveClipping.localNoise');
    });

    test('sigma_b raised in the claims only (the noise sent stays): the count event and the combined z no longer match', () => {
      expectViolation(() => av(withField(adaptive, 'adaptiveClipping.countStddev', 100)), 'dp.adaptiveClipping.combinedNoiseMultiplier');
      const section = copy(adaptive).adaptiveClipping as Json;
      const big = sectionWith(100) as Json;
      // everything the accounting reads claims sigma_b = 100, the clients would add the noise of 1.25
      expectViolation(() => av(withField(adaptive, 'adaptiveClipping', { ...big, localNoise: section.localNoise })), 'dp.adaptiveClipping.localNoise');
    });

    test('an event that does not include the count, or lies about it: dp.adaptiveClipping.event', () => {
      const [u, c] = adaptive.adaptiveClipping!.event.events;
      const cases: [string, unknown][] = [
        ['the update event alone', u],
        ['a composition of the update event only', { type: 'composed', events: [u] }],
        ['the update event twice', { type: 'composed', events: [u, u] }],
        ['count first', { type: 'composed', events: [c, u] }],
        ['a count with 10x the noise', { type: 'composed', events: [u, { ...c, sigma: c.type === 'discrete_gaussian' ? c.sigma * 10 : 0 }] }],
        ['a count with no sensitivity to speak of', { type: 'composed', events: [u, { ...c, l2Sensitivity: 1e-9, l1Sensitivity: 1e-9 }] }],
        ['a central Gaussian for the count', { type: 'composed', events: [u, { type: 'gaussian', noiseMultiplier: 1000 }] }],
        ['three events', { type: 'composed', events: [u, c, c] }],
      ];
      for (const [, event] of cases) expectViolation(() => av(withField(adaptive, 'adaptiveClipping.event', event)), 'dp.adaptiveClipping.event');
      expectViolation(() => av(withField(adaptive, 'adaptiveClipping.countEvent', { ...c, clients: 800 })), 'dp.adaptiveClipping.countEvent');
      expectViolation(() => av(withField(adaptive, 'adaptiveClipping.countEvent', u)), 'dp.adaptiveClipping.countEvent');
    });

    test('the count placed over the update\'s coordinates, or the round length inconsistent', () => {
      expectViolation(() => av(withField(adaptive, 'adaptiveClipping.layout.offset', 0)), 'dp.adaptiveClipping.layout');
      expectViolation(() => av(withField(adaptive, 'adaptiveClipping.layout.offset', adaptive.paddedDim - 1)), 'dp.adaptiveClipping.layout');
      expectViolation(() => av(withField(adaptive, 'adaptiveClipping.layout', { offset: adaptive.paddedDim, length: 2, vectorLength: adaptive.paddedDim + 2 })), 'dp.adaptiveClipping.layout');
      expectViolation(() => av(adaptive, { ...vctx, vectorLength: adaptive.paddedDim }), 'dp.vectorLength');
      expectViolation(() => av(adaptive, { ...vctx, paddedDim: adaptive.paddedDim + 1 }), 'dp.paddedDim');
    });

    test('a false count overflow bound, or a count scale the modulus cannot hold', () => {
      expectViolation(() => av(withField(adaptive, 'adaptiveClipping.overflow.probabilityBound', 1e-10)), 'dp.adaptiveClipping.overflow');
      // k = 2^16 with 20 summands: 20 k > 2^19, the count itself wraps (every derived field consistent)
      const k = 2 ** 16;
      const huge = copy(adaptive).adaptiveClipping as Json;
      const event = { ...(huge.countEvent as Json), l2Sensitivity: k, l1Sensitivity: k, sigma: (2 * k * 1.25) / Math.sqrt(8) };
      const forged = {
        ...huge, countScale: k, localNoise: { kind: 'discrete_gaussian', sigma: event.sigma }, targetCentralVariance: (2 * k * 1.25) ** 2, countEvent: event,
        event: { type: 'composed', events: [(huge.event as { events: unknown[] }).events[0], event] }, overflow: { probabilityBound: 1 },
      };
      expectViolation(() => av(withField(adaptive, 'adaptiveClipping', forged)), 'dp.adaptiveClipping.overflow');
    });

    test('a count scale changed alone, or the target variance: refused', () => {
      expectViolation(() => av(withField(adaptive, 'adaptiveClipping.countScale', adaptive.adaptiveClipping!.countScale + 1)), 'dp.adaptiveClipping.countEvent');
      expectViolation(() => av(withField(adaptive, 'adaptiveClipping.targetCentralVariance', 1)), 'dp.adaptiveClipping.targetCentralVariance');
    });

    test('an honest count with a larger count scale (more integer resolution, same sigma_b) passes', () => {
      expect(() => av(withField(adaptive, 'adaptiveClipping', sectionWith(1.25, 16)))).not.toThrow();
    });

    const numericPaths = [
      'countStddev', 'countScale', 'layout.offset', 'layout.length', 'layout.vectorLength', 'targetCentralVariance', 'combinedNoiseMultiplier',
      'countEvent.sigma', 'countEvent.clients', 'countEvent.l2Sensitivity', 'countEvent.l1Sensitivity', 'countEvent.dimension',
      'event.events.1.sigma', 'event.events.1.clients', 'event.events.1.l2Sensitivity', 'event.events.1.dimension',
      'event.events.0.sigma', 'event.events.0.l2Sensitivity', 'event.events.0.dimension',
    ].map((p) => `adaptiveClipping.${p}`);
    for (const path of numericPaths) {
      for (const dir of [1, -1]) {
        test(`a tiny change: ${path} ${dir > 0 ? 'up' : 'down'}`, () => {
          const v = getField(adaptive, path) as number;
          const changed = Number.isInteger(v) ? v + dir : v * (1 + dir * 1e-6);
          const e = thrown(() => av(withField(adaptive, path, changed)));
          expect(e instanceof PolicyViolation || e instanceof InvalidMessage).toBe(true);
        });
      }
    }
  });

  describe('malformed count sections are InvalidMessage', () => {
    const cases: [string, unknown][] = [
      ['adaptiveClipping', 'centred-bit'], ['adaptiveClipping.encoding', 'bit'], ['adaptiveClipping.countScale', 1.5], ['adaptiveClipping.countScale', 0],
      ['adaptiveClipping.countStddev', -1], ['adaptiveClipping.countStddev', Number.NaN], ['adaptiveClipping.layout', [1, 2]], ['adaptiveClipping.layout.offset', '2048'],
      ['adaptiveClipping.localNoise.kind', 'laplace'], ['adaptiveClipping.overflow.probabilityBound', 2], ['adaptiveClipping.countEvent.dimension', 0],
      ['adaptiveClipping.event.events', 'all'], ['adaptiveClipping.event.type', 3], ['adaptiveClipping.event.events.1.clients', 0.5],
    ];
    for (const [path, value] of cases) {
      test(`${path} = ${JSON.stringify(value) ?? String(value)}`, () => expectInvalidMessage(() => av(withField(adaptive, path, value))));
    }
    test('missing and unknown fields', () => {
      const missing = copy(adaptive);
      delete (missing.adaptiveClipping as Json).countEvent;
      expectInvalidMessage(() => av(missing));
      expectInvalidMessage(() => av(withField(adaptive, 'adaptiveClipping.extra', 1)));
      expectInvalidMessage(() => av(withField(adaptive, 'adaptiveClipping', null)));
    });
    test('a bad minCountStddev in the floor is the caller\'s InvalidArgument', () => {
      for (const m of [0, -1, Number.NaN, Infinity]) expect(thrown(() => av(adaptive, vctx, { ...DEFAULT_DP_FLOOR, minCountStddev: m }))).toBeInstanceOf(InvalidArgument);
    });
  });
});
