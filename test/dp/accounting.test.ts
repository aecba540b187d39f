/**
 * Published values the accountants must reproduce, from the test
 * suites and docs of Google's dp_accounting, TF Privacy, Opacus and the TFF
 * DP tutorial. Each test names its source value.
 */
import { GdpAccountant, PldAccountant, RdpAccountant, computeEpsilon, gaussianEvent, poissonGaussianRounds, poissonSampledEvent } from '../../src/dp/index.js';
import { gdpDelta } from '../../src/dp/gdp.js';
import { rdpPoissonSubsampledGaussian } from '../../src/dp/rdp.js';

const relErr = (a: number, b: number) => Math.abs(a - b) / Math.abs(b);

describe('published accounting values', () => {
  test('RDP of PoissonSampled(0.01, Gaussian(2.5)) x 50 at 6 orders (dp_accounting test), rtol 1e-4', () => {
    const orders = [1.5, 2.5, 5, 50, 100, Infinity];
    const expected = [6.70579741e-4, 1.0854871e-3, 2.18075656e-3, 2.38460375e-2, 1.67416308e2, Infinity];
    const acc = new RdpAccountant({ orders }).compose(poissonSampledEvent(0.01, gaussianEvent(2.5)), 50);
    const rdp = acc.rdp;
    for (let i = 0; i < orders.length; i++) {
      if (expected[i] === Infinity) expect(rdp[i]).toBe(Infinity);
      else expect(relErr(rdp[i]!, expected[i]!)).toBeLessThan(1e-4);
    }
    // the free function gives the same curve (per round)
    const single = rdpPoissonSubsampledGaussian(0.01, 2.5, orders);
    expect(relErr(single[2]! * 50, expected[2]!)).toBeLessThan(1e-4);
  });

  test('Gaussian sigma=4.530877117, q=1, delta=1e-6 -> eps = 1 to 7 places (fine order grid)', () => {
    const orders = Array.from({ length: 20000 }, (_, i) => 1.01 + (i * (200 - 1.01)) / 19999);
    const eps = new RdpAccountant({ orders }).compose(gaussianEvent(4.530877117)).epsilon(1e-6);
    expect(Math.abs(eps - 1)).toBeLessThan(5e-8);
  });

  test('Opacus setting sigma=1.5 q=0.04 delta=1e-5: RDP 2250 steps within 1e-4 of Opacus 7.32911117143 and dp_accounting 7.3293347', () => {
    const r = computeEpsilon(poissonGaussianRounds(1.5, 0.04, 2250), 1e-5, 'rdp');
    expect(relErr(r.epsilon, 7.32911117143)).toBeLessThan(1e-4);
    expect(relErr(r.epsilon, 7.3293347)).toBeLessThan(1e-4);
    expect(r.order).toBe(3.9);
  });

  test('Opacus setting: GDP with 2249 steps is strictly between 6.59 and 6.6, flagged approximate', () => {
    const r = computeEpsilon(poissonGaussianRounds(1.5, 0.04, 2249), 1e-5, 'gdp');
    expect(r.epsilon).toBeGreaterThan(6.59);
    expect(r.epsilon).toBeLessThan(6.6);
    expect(r.approximate).toBe(true);
    expect(new GdpAccountant().approximate).toBe(true);
  });

  test("Opacus setting: PLD with 2249 steps within 1% of Opacus' PRV 6.777395712150674", () => {
    const r = computeEpsilon(poissonGaussianRounds(1.5, 0.04, 2249), 1e-5, 'pld');
    expect(relErr(r.epsilon, 6.777395712150674)).toBeLessThan(0.01);
  });

  test('PLD: Gaussian sigma=sqrt(3) composed 3 times -> delta(eps=1) = 0.126936 +- 1e-3', () => {
    const d = new PldAccountant().compose(gaussianEvent(Math.sqrt(3)), 3).delta(1);
    expect(Math.abs(d - 0.126936)).toBeLessThan(1e-3);
  });

  test('PLD: PoissonSampled(0.2, Gaussian(0.5)) x 3 -> delta(eps=1) = 0.15594 +- 1e-3', () => {
    const d = new PldAccountant().compose(poissonSampledEvent(0.2, gaussianEvent(0.5)), 3).delta(1);
    expect(Math.abs(d - 0.15594)).toBeLessThan(1e-3);
  });

  test('GDP: mu = 1 -> delta(eps=1) = 0.12693674', () => {
    expect(Math.abs(gdpDelta(1, 1) - 0.12693674)).toBeLessThan(1e-8);
    // gaussian(1) is exactly 1-GDP
    expect(Math.abs(new GdpAccountant().compose(gaussianEvent(1)).delta(1) - 0.12693674)).toBeLessThan(1e-8);
  });

  test('TFF DP tutorial: 3383 clients, 100 rounds, q = c/3383, z = 0.01c, target (2, 1e-5) -> c = 120; RDP 1.98611, PLD 1.70747', () => {
    const event = (c: number) => poissonGaussianRounds(0.01 * c, c / 3383, 100);
    const rdpEps = (c: number) => computeEpsilon(event(c), 1e-5, 'rdp').epsilon;
    expect(rdpEps(119)).toBeGreaterThan(2);
    expect(rdpEps(120)).toBeLessThanOrEqual(2);
    expect(Math.abs(rdpEps(120) - 1.98611)).toBeLessThan(5e-6);
    const pld = computeEpsilon(event(120), 1e-5, 'pld').epsilon;
    expect(relErr(pld, 1.70747)).toBeLessThan(3e-5); // grid chosen from the problem (here 1e-4)
    const pldFine = computeEpsilon(event(120), 1e-5, 'pld', { pld: { valueDiscretizationInterval: 1e-4 } }).epsilon;
    expect(Math.abs(pldFine - 1.70747)).toBeLessThan(5e-6); // dp_accounting's grid: same 6 digits
  });
});
