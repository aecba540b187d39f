/**
 * GDP-CLT accountant (Bu et al. 2020) against reference values computed from
 * the definitions with mpmath (test/vectors/gdp-reference.json: the
 * hockey-stick divergence of N(mu, 1) vs N(0, 1) by quadrature, its root for
 * epsilon, mu of the Poisson CLT in 60 digits), and the approximate flag.
 */
import { readFileSync } from 'node:fs';
import { GdpAccountant, UnsupportedEvent, gaussianEvent, poissonGaussianRounds, sampledWithoutReplacementEvent } from '../../src/dp/index.js';
import { gdpDelta, gdpEpsilon, gdpMuPoisson } from '../../src/dp/gdp.js';
import { expectFedveilError } from '../expect-error.js';

interface GdpVectors {
  delta: { mu: number; eps: number; delta: number }[];
  epsilon: { mu: number; delta: number; epsilon: number }[];
  muPoisson: { q: number; z: number; T: number; mu: number }[];
}
const REF = JSON.parse(readFileSync(new URL('../vectors/gdp-reference.json', import.meta.url), 'utf8')) as GdpVectors;
const rel = (a: number, b: number) => Math.abs(a / b - 1);

describe('GDP accountant', () => {
  test.each(REF.muPoisson.map((c) => [c.q, c.z, c.T, c.mu] as const))('mu of the Poisson CLT, q=%p z=%p T=%p: %p', (q, z, T, mu) => {
    expect(rel(gdpMuPoisson(q, z, T), mu)).toBeLessThan(1e-13);
    expect(rel(new GdpAccountant().compose(poissonGaussianRounds(z, q, T)).mu, mu)).toBeLessThan(1e-12);
  });

  test('composition adds mu^2: T Gaussians with z are (sqrt(T)/z)-GDP', () => {
    const c = REF.muPoisson[0]!;
    const acc = new GdpAccountant().compose(poissonGaussianRounds(c.z, c.q, c.T));
    acc.compose(gaussianEvent(2), 4); // exactly 1-GDP
    expect(rel(acc.mu, Math.hypot(c.mu, 1))).toBeLessThan(1e-12);
  });

  test.each(REF.delta.map((c) => [c.mu, c.eps, c.delta] as const))('delta(eps) of %p-GDP at eps=%p equals the hockey-stick integral %p', (mu, eps, delta) => {
    expect(rel(gdpDelta(mu, eps), delta)).toBeLessThan(1e-12);
  });

  test.each(REF.epsilon.map((c) => [c.mu, c.delta, c.epsilon] as const))('eps(delta) of %p-GDP at delta=%p: %p, never below', (mu, delta, eps) => {
    const got = gdpEpsilon(mu, delta);
    expect(got).toBeGreaterThanOrEqual(eps * (1 - 1e-13));
    expect(rel(got, eps)).toBeLessThan(1e-11);
  });

  test('edge cases', () => {
    expect(gdpEpsilon(0, 1e-5)).toBe(0);
    expect(gdpEpsilon(1, 0)).toBe(Infinity);
    expect(gdpEpsilon(1e-3, 0.5)).toBe(0);
  });

  test('approximate flag; events without a CLT bound are refused', () => {
    const acc = new GdpAccountant();
    expect(acc.approximate).toBe(true);
    const e = sampledWithoutReplacementEvent(100, 10, gaussianEvent(1));
    expect(acc.supports(e)).toBe(false);
    expectFedveilError(() => acc.compose(e), UnsupportedEvent, 'UNSUPPORTED_EVENT');
  });
});
