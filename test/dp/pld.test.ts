/**
 * PLD accountant against Google's dp_accounting PLDAccountant (default
 * value_discretization_interval 1e-4, run locally; see the docstring of
 * test/dp/rdp.test.ts). With the same 1e-4 grid the algorithms are the
 * same, so agreement is ~1e-10; the 5e-4 default is checked to 5e-5.
 */
import {
  PldAccountant,
  UnsupportedEvent,
  composePmfs,
  composedEvent,
  gaussianEvent,
  gaussianPldPmf,
  gdpDelta,
  pmfDelta,
  pmfEpsilon,
  poissonGaussianRounds,
  poissonSampledEvent,
  selfComposePmf,
  selfComposePmfPair,
  selfComposedEvent,
  skellamEventForTest,
} from './pld-helpers.js';
import { readFileSync } from 'node:fs';
import { computeEpsilon } from '../../src/dp/accountant.js';
import { InfeasibleParameters } from '../../src/errors.js';
import { expectFedveilError } from '../expect-error.js';

const rel = (a: number, b: number) => Math.abs(a - b) / Math.abs(b);
const fine = { valueDiscretizationInterval: 1e-4 };

describe('PLD accountant', () => {
  test('Opacus setting (q=0.04, z=1.5, delta=1e-5) at dp_accounting\'s grid: 2249 and 10^4 rounds', () => {
    expect(rel(new PldAccountant(fine).compose(poissonGaussianRounds(1.5, 0.04, 2249)).epsilon(1e-5), 6.767051086839451)).toBeLessThan(1e-8);
    expect(rel(new PldAccountant().compose(poissonGaussianRounds(1.5, 0.04, 10000)).epsilon(1e-5), 16.704019770580995)).toBeLessThan(5e-5);
  });

  test('delta from epsilon matches dp_accounting and inverts epsilon', () => {
    const acc = new PldAccountant().compose(poissonGaussianRounds(1.5, 0.04, 2250));
    const delta5 = acc.delta(5);
    expect(delta5).toBeGreaterThanOrEqual(0.0008654432855885254); // the coarser grid is pessimistic...
    expect(rel(delta5, 0.0008654432855885254)).toBeLessThan(1e-3); // ...and close
    const eps = acc.epsilon(1e-5);
    expect(Math.abs(acc.delta(eps) - 1e-5)).toBeLessThan(1e-12);
  });

  test('heterogeneous composition matches dp_accounting and is order-independent', () => {
    const e = poissonSampledEvent(0.04, gaussianEvent(1.5));
    const parts = [selfComposedEvent(e, 1000), gaussianEvent(5), selfComposedEvent(poissonSampledEvent(0.01, gaussianEvent(0.9)), 500)];
    const a = new PldAccountant().compose(composedEvent(parts)).epsilon(1e-6);
    expect(a).toBeGreaterThanOrEqual(5.2890755130788385);
    expect(rel(a, 5.2890755130788385)).toBeLessThan(5e-5);
    const b = new PldAccountant().compose(composedEvent([...parts].reverse())).epsilon(1e-6);
    expect(rel(a, b)).toBeLessThan(1e-9);
  });

  test('connect-the-dots PMF: mass 1 (finite + infinity), pessimistic vs the exact Gaussian delta', () => {
    for (const [sigma, q, adj] of [[1, 1, 'remove'], [1.5, 0.04, 'remove'], [1.5, 0.04, 'add']] as const) {
      const pmf = gaussianPldPmf(sigma, q, adj, 1e-3);
      const total = pmf.probs.reduce((s, p) => s + p, 0) + pmf.infinityMass;
      expect(Math.abs(total - 1)).toBeLessThan(1e-9);
    }
    // q = 1: the Gaussian mechanism with noise z is exactly (1/z)-GDP, whose delta(eps) is closed-form;
    // the coarse PMF never reports less, and equals it on grid points
    const pmf = gaussianPldPmf(2, 1, 'remove', 1e-2);
    for (const eps of [0, 0.13, 0.5, 1.007, 2]) {
      const exact = gdpDelta(0.5, eps);
      expect(pmfDelta(pmf, eps)).toBeGreaterThanOrEqual(exact - 1e-12);
      expect(pmfDelta(pmf, eps)).toBeLessThan(exact + 1e-3);
    }
    expect(Math.abs(pmfDelta(pmf, 0.5) - gdpDelta(0.5, 0.5))).toBeLessThan(1e-12);
  });

  test('FFT self-composition equals repeated direct composition', () => {
    const pmf = gaussianPldPmf(1, 0.3, 'remove', 1e-2);
    const byFft = selfComposePmf(pmf, 4, 0);
    let direct = pmf;
    for (let i = 1; i < 4; i++) direct = composePmfs(direct, pmf, 0);
    for (const eps of [0, 0.5, 1, 2]) expect(Math.abs(pmfDelta(byFft, eps) - pmfDelta(direct, eps))).toBeLessThan(1e-12);
    expect(Math.abs(pmfEpsilon(byFft, 1e-3) - pmfEpsilon(direct, 1e-3))).toBeLessThan(1e-9);
  });

  test('the paired REMOVE/ADD self-composition (one shared inverse FFT) equals two separate ones', () => {
    const remove = gaussianPldPmf(1.2, 0.05, 'remove', 2e-3);
    const add = gaussianPldPmf(1.2, 0.05, 'add', 2e-3);
    const [pr, pa] = selfComposePmfPair(remove, add, 300);
    for (const [paired, single] of [[pr, selfComposePmf(remove, 300)], [pa, selfComposePmf(add, 300)]] as const) {
      expect(paired.lower).toBe(single.lower);
      expect(paired.probs.length).toBe(single.probs.length);
      for (const eps of [0.5, 1, 2]) expect(Math.abs(pmfDelta(paired, eps) - pmfDelta(single, eps))).toBeLessThan(1e-13);
    }
  });

  test('a grid too large to allocate is refused with InfeasibleParameters, not an out-of-memory crash', () => {
    const acc = new PldAccountant().compose(poissonSampledEvent(0.5, gaussianEvent(3)));
    const before = acc.epsilon(1e-5);
    expectFedveilError(() => acc.compose(composedEvent([gaussianEvent(2), selfComposedEvent(gaussianEvent(0.5), 10_000)])), InfeasibleParameters, 'INFEASIBLE_PARAMETERS');
    expect(acc.epsilon(1e-5)).toBe(before); // nothing of the failed composition remains
  });

  test('unsampled Gaussians alone are exact (no grid): the Gaussian mechanism\'s closed-form delta', () => {
    // 10^4 Gaussians with z = 50 are one Gaussian with z = 0.5, i.e. 2-GDP (Dong, Roth, Su Cor. 1)
    const acc = new PldAccountant().compose(selfComposedEvent(gaussianEvent(50), 10_000));
    expect(acc.delta(1)).toBe(gdpDelta(2, 1));
    expect(acc.delta(acc.epsilon(1e-5))).toBeLessThanOrEqual(1e-5);
  });

  test('unsupported events are refused and leave the state unchanged; non-private events give eps = inf', () => {
    const acc = new PldAccountant().compose(gaussianEvent(2));
    const before = acc.epsilon(1e-5);
    const bad = composedEvent([gaussianEvent(1), skellamEventForTest()]);
    expectFedveilError(() => acc.compose(bad), UnsupportedEvent, 'UNSUPPORTED_EVENT');
    expect(acc.supports(bad)).toBe(false);
    expect(acc.epsilon(1e-5)).toBe(before);
    expect(new PldAccountant().compose(gaussianEvent(0)).epsilon(1e-5)).toBe(Infinity);
    expect(new PldAccountant().compose(gaussianEvent(0)).delta(3)).toBe(1);
    expect(new PldAccountant().epsilon(1e-5)).toBe(0);
    expect(new PldAccountant().compose(poissonGaussianRounds(1, 0, 10)).epsilon(1e-5)).toBe(0);
  });
});

interface PldVectors {
  cases: { q: number; z: number; T: number; delta: number; pld: number; rdp: number }[];
}
const DPA = JSON.parse(readFileSync(new URL('../vectors/dp-accounting-pld.json', import.meta.url), 'utf8')) as PldVectors;

describe('PLD with the grid chosen from the problem, against dp_accounting at its defaults (test/vectors/dp-accounting-pld.json)', () => {
  test.each(DPA.cases.map((c) => [c.q, c.z, c.T, c.delta, c.pld] as const))('q=%p z=%p T=%p delta=%p: within 0.5%% of dp_accounting (%p)', (q, z, T, delta, want) => {
    const got = computeEpsilon(poissonGaussianRounds(z, q, T), delta, 'pld').epsilon;
    expect(Math.abs(got / want - 1)).toBeLessThan(5e-3);
  });

  test('the grid cases span epsilon 0.01..50, q 1e-4..1, T 1..1e5', () => {
    const eps = DPA.cases.map((c) => c.pld);
    expect(Math.min(...eps)).toBeLessThan(0.01);
    expect(Math.max(...eps)).toBeGreaterThan(45);
    expect(Math.min(...DPA.cases.map((c) => c.q))).toBe(1e-4);
    expect(Math.max(...DPA.cases.map((c) => c.T))).toBe(100_000);
  });
});
