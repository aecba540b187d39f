/**
 * Accounting of the distributed integer mechanisms: DDG (Kairouz et al.
 * Thm 1 with tau), Skellam (Agarwal et al.), Zhu-Wang Poisson subsampling,
 * fractional orders, and convergence to the continuous Gaussian at large scale.
 */
import { describe, expect, test } from '@jest/globals';
import {
  ddgEpsilonCdp,
  ddgTau,
  distributedEvent,
  distributedRdp,
  roundedL1Bound,
  roundedL2Bound,
  type DiscreteGaussianEvent,
  type SkellamEvent,
} from '../../src/dp/distributed-rdp.js';
import { RdpAccountant } from '../../src/dp/rdp.js';
import { InvalidArgument } from '../../src/errors.js';

const INT_ORDERS = Array.from({ length: 255 }, (_, i) => i + 2);

function gaussianEps(z: number, q: number, T: number, orders?: number[]): number {
  const inner = { type: 'gaussian' as const, noiseMultiplier: z };
  const ev = q === 1 ? inner : { type: 'poisson_sampled' as const, samplingProbability: q, event: inner };
  return new RdpAccountant(orders ? { orders } : {}).compose(ev, T).epsilon(1e-5);
}

function distEps(mechanism: 'ddg' | 'skellam', z: number, s: number, q: number, T: number, orders?: number[]): number {
  const e = distributedEvent({ mechanism, clipNorm: 1, noiseMultiplier: z, scale: s, dimension: 1024, minClients: 100 });
  const ev = q === 1 ? e : { type: 'poisson_sampled' as const, samplingProbability: q, event: e };
  return new RdpAccountant(orders ? { orders } : {}).compose(ev, T).epsilon(1e-5);
}

describe('formulas', () => {
  test('tau is 10 * sum_{k=1}^{n-1} exp(-2 pi^2 sigma^2 k/(k+1))', () => {
    const sigma = 0.7;
    let want = 0;
    for (let k = 1; k < 5; k++) want += Math.exp((-2 * Math.PI ** 2 * sigma ** 2 * k) / (k + 1));
    expect(ddgTau(sigma, 5)).toBeCloseTo(10 * want, 14);
    expect(ddgTau(sigma, 1)).toBe(0);
  });

  test('DDG RDP is alpha * eps^2 / 2 with eps = min of the two Theorem 1 expressions', () => {
    const e: DiscreteGaussianEvent = { type: 'discrete_gaussian', sigma: 0.8, clients: 10, l2Sensitivity: 3, l1Sensitivity: 9, dimension: 50 };
    const tau = ddgTau(0.8, 10);
    const a = 3 / (Math.sqrt(10) * 0.8);
    const eps = Math.min(Math.sqrt(a * a + 0.5 * tau * 50), a + tau * Math.sqrt(50));
    expect(ddgEpsilonCdp(e)).toBeCloseTo(eps, 12);
    const rdp = distributedRdp(e, [2, 3.5, 10]);
    expect(rdp[0]).toBeCloseTo(eps * eps, 12);
    expect(rdp[1]).toBeCloseTo((3.5 * eps * eps) / 2, 12);
    expect(rdp[2]).toBeCloseTo(5 * eps * eps, 12);
  });

  test('DDG with sigma < 1/2 is outside Theorem 1: Infinity', () => {
    const e: DiscreteGaussianEvent = { type: 'discrete_gaussian', sigma: 0.4, clients: 10, l2Sensitivity: 1, l1Sensitivity: 1, dimension: 1 };
    expect(distributedRdp(e, [2])[0]).toBe(Infinity);
  });

  test('Skellam RDP matches Agarwal et al. at integer orders', () => {
    const e: SkellamEvent = { type: 'skellam', mu: 5, clients: 4, l2Sensitivity: 3, l1Sensitivity: 7, dimension: 16 };
    const M = 20;
    for (const a of [2, 5, 40]) {
      const want = (a * 9) / (4 * M) + Math.min(((2 * a - 1) * 9 + 6 * 7) / (16 * M * M), (3 * 7) / (4 * M));
      expect(distributedRdp(e, [a])[0]).toBeCloseTo(want, 12);
    }
  });

  test('rounding bounds (Kairouz et al. conditional rounding)', () => {
    expect(roundedL2Bound(10, 100, 0)).toBe(20);
    const b = Math.exp(-0.5);
    expect(roundedL2Bound(10, 100, b)).toBeCloseTo(Math.sqrt(100 + 25 + Math.sqrt(2 * 0.5) * (10 + 5)), 12);
    expect(roundedL1Bound(3, 100)).toBe(9);
    expect(roundedL1Bound(30, 100)).toBe(300);
  });

  test('fractional orders: chord of the convex (alpha-1) RDP, between its integer neighbours', () => {
    const e: SkellamEvent = { type: 'skellam', mu: 50, clients: 4, l2Sensitivity: 10, l1Sensitivity: 40, dimension: 16 };
    const [r2, r25, r3, r15] = distributedRdp(e, [2, 2.5, 3, 1.5]);
    expect(r25).toBeCloseTo((0.5 * 1 * r2! + 0.5 * 2 * r3!) / 1.5, 12);
    expect(r15).toBeCloseTo((0.5 * r2!) / 0.5, 12);
    const sub = { type: 'poisson_sampled' as const, samplingProbability: 0.05, event: e };
    const [s2, s25, s3] = distributedRdp(sub, [2, 2.5, 3]);
    expect(s25).toBeGreaterThanOrEqual(Math.min(s2!, s3!));
    expect(s25).toBeLessThanOrEqual(Math.max(s2!, s3!) * 1.5);
  });

  test('subsampling: q = 1 is the unsampled curve, q = 0 is 0, small q is smaller', () => {
    const e = distributedEvent({ mechanism: 'ddg', clipNorm: 1, noiseMultiplier: 1, scale: 1000, dimension: 256, minClients: 10 });
    const base = distributedRdp(e, INT_ORDERS.slice(0, 30));
    expect(distributedRdp({ type: 'poisson_sampled', samplingProbability: 1, event: e }, INT_ORDERS.slice(0, 30))).toEqual(base);
    expect(Array.from(distributedRdp({ type: 'poisson_sampled', samplingProbability: 0, event: e }, [2, 5]))).toEqual([0, 0]);
    const sub = distributedRdp({ type: 'poisson_sampled', samplingProbability: 0.01, event: e }, INT_ORDERS.slice(0, 30));
    for (let i = 0; i < 30; i++) expect(sub[i]).toBeLessThanOrEqual(base[i]!);
    expect(sub[0]).toBeLessThan(base[0]! / 100);
  });

  test('invalid events and orders are rejected', () => {
    const e = distributedEvent({ mechanism: 'skellam', clipNorm: 1, noiseMultiplier: 1, scale: 10, dimension: 4, minClients: 2 });
    expect(() => distributedRdp(e, [0.5])).toThrow(InvalidArgument);
    expect(() => distributedRdp({ ...e, clients: 0 }, [2])).toThrow(InvalidArgument);
    expect(() => distributedRdp({ ...e, mu: -1 } as SkellamEvent, [2])).toThrow(InvalidArgument);
    expect(() => distributedRdp({ type: 'poisson_sampled', samplingProbability: 2, event: e }, [2])).toThrow(InvalidArgument);
    expect(() => distributedEvent({ mechanism: 'ddg', clipNorm: 0, noiseMultiplier: 1, scale: 1, dimension: 1, minClients: 1 })).toThrow(InvalidArgument);
  });

  test('events are plain frozen JSON data', () => {
    const e = distributedEvent({ mechanism: 'ddg', clipNorm: 1, noiseMultiplier: 1, scale: 100, dimension: 64, minClients: 3 });
    expect(Object.isFrozen(e)).toBe(true);
    expect(JSON.parse(JSON.stringify(e))).toEqual(e);
  });
});

describe('against the continuous Gaussian (same z, q, T)', () => {
  for (const mechanism of ['ddg', 'skellam'] as const) {
    for (const z of [0.8, 1.5]) {
      test(`${mechanism}, z=${z}, q=1, T=1000: large scale s converges to the Gaussian's epsilon within 1%`, () => {
        const g = gaussianEps(z, 1, 1000, INT_ORDERS);
        const d = distEps(mechanism, z, 1e5, 1, 1000, INT_ORDERS);
        expect(d).toBeGreaterThanOrEqual(g * (1 - 1e-9));
        expect(Math.abs(d / g - 1)).toBeLessThan(0.01);
      });
    }

    test(`${mechanism}, q=0.01: converges in s to a limit that is an upper bound on the Gaussian's (Zhu-Wang general bound)`, () => {
      const g = gaussianEps(1, 0.01, 1000, INT_ORDERS);
      const a = distEps(mechanism, 1, 1e4, 0.01, 1000, INT_ORDERS);
      const b = distEps(mechanism, 1, 1e6, 0.01, 1000, INT_ORDERS);
      expect(Math.abs(a / b - 1)).toBeLessThan(0.01); // converged in s
      // the general subsampling bound (factor 3 terms) is looser than Mironov et al.'s exact Gaussian analysis
      expect(b).toBeGreaterThanOrEqual(g);
      expect(b / g).toBeLessThan(1.3);
    });
  }

  test('tiny scale: the DDG tau term dominates and epsilon blows up', () => {
    // sigma = 0.55 per client, 200 clients: tau * d dwarfs Delta^2 / (n sigma^2)
    const e = distributedEvent({ mechanism: 'ddg', clipNorm: 1, noiseMultiplier: 1, scale: 0.55 * Math.sqrt(200), dimension: 1024, minClients: 200 }) as DiscreteGaussianEvent;
    const tau = ddgTau(e.sigma, e.clients);
    const scaled2 = e.l2Sensitivity ** 2 / (e.clients * e.sigma ** 2);
    expect(0.5 * tau * e.dimension).toBeGreaterThan(10 * scaled2);
    const d = new RdpAccountant({ orders: INT_ORDERS }).compose(e, 10).epsilon(1e-5);
    const g = gaussianEps(1, 1, 10, INT_ORDERS);
    expect(d).toBeGreaterThan(10 * g);
  });

  test('tiny scale: Skellam epsilon is inflated by rounding (sensitivity) and its extra term', () => {
    const d = distEps('skellam', 1, 0.5, 1, 10, INT_ORDERS);
    const g = gaussianEps(1, 1, 10, INT_ORDERS);
    expect(d).toBeGreaterThan(10 * g);
  });
});
