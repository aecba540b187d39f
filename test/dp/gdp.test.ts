/** GDP-CLT accountant (Bu et al. 2020): closed forms and the approximate flag. */
import { GdpAccountant, UnsupportedEvent, gaussianEvent, gdpDelta, gdpEpsilon, gdpMuPoisson, poissonGaussianRounds, sampledWithoutReplacementEvent } from '../../src/dp/index.js';

describe('GDP accountant', () => {
  test('mu = q sqrt(T (e^{1/z^2} - 1)) and composition adds mu^2', () => {
    const mu = gdpMuPoisson(0.04, 1.5, 2249);
    expect(Math.abs(mu - 0.04 * Math.sqrt(2249 * Math.expm1(1 / 2.25)))).toBeLessThan(1e-15);
    const acc = new GdpAccountant().compose(poissonGaussianRounds(1.5, 0.04, 2249));
    expect(Math.abs(acc.mu - mu)).toBeLessThan(1e-12);
    acc.compose(gaussianEvent(2), 4); // exactly (sqrt(4)/2)-GDP = 1-GDP
    expect(Math.abs(acc.mu - Math.hypot(mu, 1))).toBeLessThan(1e-12);
  });

  test('epsilon(delta) inverts delta(epsilon) to 1e-10', () => {
    for (const mu of [0.1, 1, 3]) {
      const eps = gdpEpsilon(mu, 1e-5);
      expect(Math.abs(gdpDelta(mu, eps) - 1e-5)).toBeLessThan(1e-10 * 1e-5 + 1e-16);
    }
    expect(gdpEpsilon(0, 1e-5)).toBe(0);
    expect(gdpEpsilon(1, 0)).toBe(Infinity);
    expect(gdpEpsilon(1e-3, 0.5)).toBe(0);
  });

  test('approximate flag; events without a CLT bound are refused', () => {
    const acc = new GdpAccountant();
    expect(acc.approximate).toBe(true);
    const e = sampledWithoutReplacementEvent(100, 10, gaussianEvent(1));
    expect(acc.supports(e)).toBe(false);
    expect(() => acc.compose(e)).toThrow(UnsupportedEvent);
  });
});
