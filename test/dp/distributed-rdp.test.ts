/**
 * Accounting of the distributed integer mechanisms: DDG (Kairouz et al.
 * Prop. 14), Skellam (Agarwal et al.), Poisson subsampling,
 * fractional orders, and convergence to the continuous Gaussian at large scale.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, test } from '@jest/globals';
import {
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
import { expectFedveilError } from '../expect-error.js';

const AUTHORS_ROUNDING = (JSON.parse(readFileSync(new URL('../vectors/distributed-dp-authors.json', import.meta.url), 'utf8')) as { rounding: { c: number; d: number; beta: number; bound: number }[] }).rounding;
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

interface AuthorsVectors {
  orders: number[];
  delta: number;
  ddg: { sigma: number; clients: number; l2: number; l1: number; dim: number; q: number; steps: number; tau: number; rdp: number[]; epsilon: number }[];
  skellam: { mu: number; clients: number; l2: number; l1: number; dim: number; q: number; steps: number; rdp: number[]; epsilon: number }[];
}
const AUTHORS = JSON.parse(readFileSync(new URL('../vectors/distributed-dp-authors.json', import.meta.url), 'utf8')) as AuthorsVectors;

function vectorEvent(c: AuthorsVectors['ddg'][number] | AuthorsVectors['skellam'][number]) {
  const inner: DiscreteGaussianEvent | SkellamEvent =
    'sigma' in c
      ? { type: 'discrete_gaussian', sigma: c.sigma, clients: c.clients, l2Sensitivity: c.l2, l1Sensitivity: c.l1, dimension: c.dim }
      : { type: 'skellam', mu: c.mu, clients: c.clients, l2Sensitivity: c.l2, l1Sensitivity: c.l1, dimension: c.dim };
  return c.q === 1 ? inner : { type: 'poisson_sampled' as const, samplingProbability: c.q, event: inner };
}

describe("against the authors' accounting code (test/vectors/distributed-dp-authors.json)", () => {
  test('tau of Kairouz et al. equals theirs', () => {
    for (const c of AUTHORS.ddg) expect(Math.abs(ddgTau(c.sigma, c.clients) - c.tau)).toBeLessThanOrEqual(1e-12 * c.tau);
  });

  for (const [kind, cases] of [['ddg', AUTHORS.ddg], ['skellam', AUTHORS.skellam]] as const) {
    cases.forEach((c, i) => {
      const label = `${kind} #${i} (q=${c.q}, T=${c.steps})`;
      if (c.q === 1) {
        test(`${label}: unsampled RDP and epsilon equal theirs`, () => {
          const rdp = distributedRdp(vectorEvent(c), AUTHORS.orders);
          rdp.forEach((r, k) => expect(Math.abs((r * c.steps) / c.rdp[k]! - 1)).toBeLessThan(1e-12));
          const eps = new RdpAccountant({ orders: AUTHORS.orders }).compose(vectorEvent(c), c.steps).epsilon(AUTHORS.delta);
          expect(Math.abs(eps / c.epsilon - 1)).toBeLessThan(1e-12);
        });
      } else {
        test(`${label}: subsampled RDP is at most theirs (Zhu-Wang general bound) at every order`, () => {
          const rdp = distributedRdp(vectorEvent(c), AUTHORS.orders);
          rdp.forEach((r, k) => expect(r * c.steps).toBeLessThanOrEqual(c.rdp[k]! * (1 + 1e-12)));
          const eps = new RdpAccountant({ orders: AUTHORS.orders }).compose(vectorEvent(c), c.steps).epsilon(AUTHORS.delta);
          expect(eps).toBeLessThanOrEqual(c.epsilon * (1 + 1e-12));
        });
      }
    });
  }

  test('the sigma 0.7 case: the additive term is tau * d (their 17.94, not the tau * d / 2 figure)', () => {
    const c = AUTHORS.ddg[0]!;
    expect(c.sigma).toBe(0.7);
    expect(new RdpAccountant({ orders: AUTHORS.orders }).compose(vectorEvent(c), 1).epsilon(1e-5)).toBeCloseTo(17.943080429340846, 9);
  });

  test('DDG with sigma < 1/2 is outside Proposition 14: Infinity', () => {
    const e: DiscreteGaussianEvent = { type: 'discrete_gaussian', sigma: 0.4, clients: 10, l2Sensitivity: 1, l1Sensitivity: 1, dimension: 1 };
    expect(distributedRdp(e, [2])[0]).toBe(Infinity);
  });
});

/** Skellam(M) PMF on [-K, K]: P(k) = sum_j Pois(j + k; M) Pois(j; M), summed directly. */
function skellamPmf(M: number, K: number): Float64Array {
  const J = K + 400;
  const logFact = new Float64Array(2 * J + 2);
  for (let i = 2; i < logFact.length; i++) logFact[i] = logFact[i - 1]! + Math.log(i);
  const logPois = (n: number) => n * Math.log(M) - M - logFact[n]!;
  const out = new Float64Array(2 * K + 1);
  for (let k = -K; k <= K; k++) {
    let s = 0;
    for (let j = Math.max(0, -k); j < J; j++) s += Math.exp(logPois(j + k) + logPois(j));
    out[k + K] = s;
  }
  return out;
}

describe('soundness of the subsampled bound against exact divergences (1-D Skellam, shift 1)', () => {
  // One client, mu = M, Delta2 = Delta1 = 1, d = 1: exact Renyi divergences of the Poisson-subsampled
  // pair, both directions, computed from the PMF; the bound must be above both.
  for (const [M, q] of [[3, 0.1], [10, 0.3], [2, 0.02], [25, 0.9]] as const) {
    test(`M=${M}, q=${q}`, () => {
      const K = 200;
      const p = skellamPmf(M, K);
      const orders = [2, 3, 4, 6, 8, 12, 16, 24, 32];
      const bound = distributedRdp({ type: 'poisson_sampled', samplingProbability: q, event: { type: 'skellam', mu: M, clients: 1, l2Sensitivity: 1, l1Sensitivity: 1, dimension: 1 } }, orders);
      orders.forEach((a, k) => {
        let fwd = 0;
        let rev = 0;
        for (let i = 1; i < 2 * K; i++) {
          const base = p[i]!;
          const mix = (1 - q) * base + q * p[i - 1]!; // shifted by +1
          if (base === 0 || mix === 0) continue;
          fwd += Math.exp(a * Math.log(mix) + (1 - a) * Math.log(base));
          rev += Math.exp(a * Math.log(base) + (1 - a) * Math.log(mix));
        }
        const exact = Math.max(Math.log(fwd), Math.log(rev)) / (a - 1);
        expect(bound[k]).toBeGreaterThanOrEqual(exact * (1 - 1e-9));
      });
    });
  }
});

describe('formulas', () => {
  test('rounding bounds (Kairouz et al. conditional rounding): values from the authors\' rounded_l2_norm_bound', () => {
    expect(roundedL2Bound(10, 100, 0)).toBe(20);
    expect(roundedL1Bound(3, 100)).toBe(9);
    expect(roundedL1Bound(30, 100)).toBe(300);
    for (const r of AUTHORS_ROUNDING) expect(roundedL2Bound(r.c, r.d, r.beta) / r.bound - 1).toBeCloseTo(0, 13);
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
    expectFedveilError(() => distributedRdp(e, [0.5]), InvalidArgument, 'INVALID_ARGUMENT');
    expectFedveilError(() => distributedRdp({ ...e, clients: 0 }, [2]), InvalidArgument, 'INVALID_ARGUMENT');
    expectFedveilError(() => distributedRdp({ ...e, mu: -1 } as SkellamEvent, [2]), InvalidArgument, 'INVALID_ARGUMENT');
    expectFedveilError(() => distributedRdp({ type: 'poisson_sampled', samplingProbability: 2, event: e }, [2]), InvalidArgument, 'INVALID_ARGUMENT');
    expectFedveilError(() => distributedEvent({ mechanism: 'ddg', clipNorm: 0, noiseMultiplier: 1, scale: 1, dimension: 1, minClients: 1 }), InvalidArgument, 'INVALID_ARGUMENT');
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

    test(`${mechanism}, q=0.01: converges in s to a limit that is an upper bound on the Gaussian's`, () => {
      const g = gaussianEps(1, 0.01, 1000, INT_ORDERS);
      const a = distEps(mechanism, 1, 1e4, 0.01, 1000, INT_ORDERS);
      const b = distEps(mechanism, 1, 1e6, 0.01, 1000, INT_ORDERS);
      expect(Math.abs(a / b - 1)).toBeLessThan(0.01); // converged in s
      // the integer mechanisms' subsampled bound is looser than Mironov et al.'s exact Gaussian analysis
      expect(b).toBeGreaterThanOrEqual(g);
      expect(b / g).toBeLessThan(1.3);
    });
  }

  test('tiny scale: the DDG tau term dominates and epsilon blows up', () => {
    // sigma = 0.55 per client, 200 clients: tau * d dwarfs Delta^2 / (n sigma^2)
    const e = distributedEvent({ mechanism: 'ddg', clipNorm: 1, noiseMultiplier: 1, scale: 0.55 * Math.sqrt(200), dimension: 1024, minClients: 200 }) as DiscreteGaussianEvent;
    const tau = ddgTau(e.sigma, e.clients);
    const scaled2 = e.l2Sensitivity ** 2 / (e.clients * e.sigma ** 2);
    expect(tau * e.dimension).toBeGreaterThan(10 * scaled2);
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
