/**
 * Property tests (fast-check, fixed seeds so runs are reproducible):
 * monotonicity of epsilon in the mechanism's knobs, consistency of
 * epsilon(delta) and delta(epsilon), and the ordering PLD <= RDP (the PLD
 * is the tighter upper bound; slack 1% for the PLD grid).
 */
import fc from 'fast-check';
import { GdpAccountant, PldAccountant, RdpAccountant, poissonGaussianRounds, validateEvent, type DpEvent } from '../../src/dp/index.js';

const q = fc.double({ min: 1e-3, max: 1, noNaN: true });
const z = fc.double({ min: 0.5, max: 8, noNaN: true });
const rounds = fc.integer({ min: 1, max: 10_000 });
const rdpEps = (zz: number, qq: number, t: number) => new RdpAccountant().compose(poissonGaussianRounds(zz, qq, t)).epsilon(1e-5);

describe('accounting properties', () => {
  test('RDP epsilon is non-increasing in z and non-decreasing in q and T', () => {
    fc.assert(
      fc.property(q, z, rounds, fc.double({ min: 1.01, max: 2, noNaN: true }), (qq, zz, t, f) => {
        const e = rdpEps(zz, qq, t);
        expect(rdpEps(zz * f, qq, t)).toBeLessThanOrEqual(e * (1 + 1e-12));
        expect(rdpEps(zz, Math.min(1, qq * f), t)).toBeGreaterThanOrEqual(e * (1 - 1e-12));
        expect(rdpEps(zz, qq, t + 1)).toBeGreaterThanOrEqual(e * (1 - 1e-12));
      }),
      { seed: 20261123, numRuns: 40 },
    );
  });

  test('delta(epsilon(delta)) <= delta for RDP and GDP', () => {
    fc.assert(
      fc.property(q, z, rounds, fc.double({ min: 1e-9, max: 1e-2, noNaN: true }), (qq, zz, t, delta) => {
        const event = poissonGaussianRounds(zz, qq, t);
        for (const acc of [new RdpAccountant().compose(event), new GdpAccountant().compose(event)]) {
          const eps = acc.epsilon(delta);
          if (eps > 0 && Number.isFinite(eps)) expect(acc.delta(eps)).toBeLessThanOrEqual(delta * (1 + 1e-6));
        }
      }),
      { seed: 7, numRuns: 40 },
    );
  });

  test('PLD: delta(epsilon(delta)) = delta, and PLD epsilon <= RDP epsilon (+1%)', () => {
    fc.assert(
      fc.property(fc.double({ min: 0.01, max: 1, noNaN: true }), fc.double({ min: 0.7, max: 4, noNaN: true }), fc.integer({ min: 1, max: 300 }), (qq, zz, t) => {
        const event = poissonGaussianRounds(zz, qq, t);
        const pld = new PldAccountant({ valueDiscretizationInterval: 1e-3 }).compose(event);
        const eps = pld.epsilon(1e-5);
        if (eps > 0) expect(Math.abs(pld.delta(eps) - 1e-5)).toBeLessThan(1e-9);
        expect(eps).toBeLessThanOrEqual(rdpEps(zz, qq, t) * 1.01 + 1e-3);
      }),
      { seed: 11, numRuns: 8 },
    );
  });

  test('events survive a JSON round trip and validate', () => {
    const leaf = fc.oneof(
      z.map((noiseMultiplier): DpEvent => ({ type: 'gaussian', noiseMultiplier })),
      fc.tuple(q, z).map(([samplingProbability, noiseMultiplier]): DpEvent => ({ type: 'poisson_sampled', samplingProbability, event: { type: 'gaussian', noiseMultiplier } })),
    );
    const event = fc.letrec<{ e: DpEvent }>((tie) => ({
      e: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        leaf,
        fc.tuple(tie('e'), fc.integer({ min: 0, max: 1000 })).map(([e, count]): DpEvent => ({ type: 'self_composed', event: e, count })),
        fc.array(tie('e'), { maxLength: 3 }).map((events): DpEvent => ({ type: 'composed', events })),
      ),
    })).e;
    fc.assert(
      fc.property(event, (e) => {
        const back: unknown = JSON.parse(JSON.stringify(e));
        validateEvent(back);
        expect(back).toEqual(e);
      }),
      { seed: 3, numRuns: 200 },
    );
  });
});
