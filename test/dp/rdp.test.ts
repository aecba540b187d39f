/**
 * RDP accountant against Google's dp_accounting (fetched from
 * github.com/google/differential-privacy, python/dp_accounting, run locally
 * with numpy 2.4 / scipy 1.17): values printed by RdpAccountant.get_epsilon
 * and friends for the same events. Our code computes log binomials by
 * recurrence instead of gammaln, so agreement is to ~1e-12, asserted 1e-9.
 */
import { DEFAULT_RDP_ORDERS, DP_ACCOUNTING_RDP_ORDERS, RdpAccountant, UnsupportedEvent, composedEvent, gaussianEvent, poissonGaussianRounds, poissonSampledEvent, sampledWithoutReplacementEvent, selfComposedEvent } from '../../src/dp/index.js';
import { rdpToDelta, rdpToEpsilon } from '../../src/dp/rdp.js';
import { readFileSync } from 'node:fs';
import { InvalidArgument } from '../../src/errors.js';
import { expectFedveilError } from '../expect-error.js';

const rel = (a: number, b: number) => Math.abs(a - b) / Math.abs(b);

describe('RDP accountant', () => {
  test("default orders: dp_accounting's below 64, then every integer to 256, then sparser up to 8192", () => {
    expect(DP_ACCOUNTING_RDP_ORDERS.length).toBe(99 + 53 + 4);
    expect(DP_ACCOUNTING_RDP_ORDERS.slice(-5)).toEqual([63, 128, 256, 512, 1024]);
    expect(DEFAULT_RDP_ORDERS[0]).toBe(1.1);
    expect(DEFAULT_RDP_ORDERS[98]).toBe(10.9);
    for (let a = 11; a <= 256; a++) expect(DEFAULT_RDP_ORDERS).toContain(a);
    for (const a of DP_ACCOUNTING_RDP_ORDERS) expect(DEFAULT_RDP_ORDERS).toContain(a);
    expect(DEFAULT_RDP_ORDERS.at(-1)).toBe(8192);
    expect([...DEFAULT_RDP_ORDERS].sort((x, y) => x - y)).toEqual([...DEFAULT_RDP_ORDERS]);
  });

  test('more orders never raise epsilon: default <= dp_accounting orders', () => {
    for (const [q, z, T] of [[0.04, 1.5, 2250], [1e-4, 0.5, 100], [0.3, 3, 10], [1e-3, 20, 1]] as const) {
      const a = new RdpAccountant().compose(poissonGaussianRounds(z, q, T)).epsilon(1e-5);
      const b = new RdpAccountant({ orders: DP_ACCOUNTING_RDP_ORDERS }).compose(poissonGaussianRounds(z, q, T)).epsilon(1e-5);
      expect(a).toBeLessThanOrEqual(b);
    }
  });

  test.each([
    // [q, z, T, delta, dp_accounting epsilon, orders dp_accounting drops as non-converging]
    [0.04, 1.5, 2250, 1e-5, 7.329334702381698, 0],
    [0.5, 1.0, 1_000_000, 1e-5, 334690.83717655385, 8],
    [1e-4, 0.7, 1_000_000, 1e-6, 1.8084253875742409, 0],
    [120 / 3383, 1.2, 100, 1e-5, 1.9861145998784593, 0],
  ])('q=%p z=%p T=%p delta=%p matches dp_accounting', (q, z, T, delta, expected, dropped) => {
    const acc = new RdpAccountant().compose(poissonGaussianRounds(z, q, T));
    expect(rel(acc.epsilon(delta), expected)).toBeLessThan(1e-9);
    expect(acc.warnings.length).toBe(dropped);
    expect(acc.rdp.filter((v) => v === Infinity).length).toBe(dropped);
  });

  test('a non-converging fractional series drops the order with a warning (q=0.3, sigma=0.5)', () => {
    const acc = new RdpAccountant().compose(poissonGaussianRounds(0.5, 0.3, 1000));
    expect(rel(acc.epsilon(1e-5), 1128.8766326197017)).toBeLessThan(1e-9); // dp_accounting, same 6 orders dropped
    expect(acc.warnings.length).toBe(6);
    expect(acc.warnings[0]).toMatch(/order 1\.1 did not converge/);
    expect(acc.rdp.filter((v) => v === Infinity).length).toBe(6);
    // a second accountant gets the memoised curve with the same warnings
    const again = new RdpAccountant().compose(poissonGaussianRounds(0.5, 0.3, 10));
    expect(again.warnings.length).toBe(6);
    expect(rel(again.rdp[40]! * 100, acc.rdp[40]!)).toBeLessThan(1e-12);
  });

  test('q up to 1 and sigma down to 0.5 stay finite and ordered', () => {
    for (const q of [0.9, 0.99, 1]) {
      const eps = new RdpAccountant().compose(poissonGaussianRounds(0.5, q, 10)).epsilon(1e-5);
      expect(Number.isFinite(eps)).toBe(true);
    }
    expect(rel(new RdpAccountant().compose(poissonGaussianRounds(0.5, 0.99, 10)).epsilon(1e-5), 48.57269526084725)).toBeLessThan(1e-9);
  });

  test('delta from epsilon matches dp_accounting and inverts epsilon', () => {
    const acc = new RdpAccountant().compose(poissonGaussianRounds(1.5, 0.04, 2250));
    const { delta, order } = acc.deltaAndOrder(5);
    expect(rel(delta, 0.003300713109331689)).toBeLessThan(1e-9);
    expect(order).toBe(3);
    const eps = acc.epsilon(1e-5);
    expect(acc.delta(eps)).toBeLessThanOrEqual(1e-5 * (1 + 1e-9));
  });

  test('composed events add RDP; compose(e, T) equals self_composed(e, T)', () => {
    const e = poissonSampledEvent(0.04, gaussianEvent(1.5));
    const a = new RdpAccountant().compose(e, 1000);
    const b = new RdpAccountant().compose(selfComposedEvent(e, 1000));
    expect(Array.from(a.rdp)).toEqual(Array.from(b.rdp));
    const mixed = composedEvent([selfComposedEvent(e, 1000), gaussianEvent(5), selfComposedEvent(poissonSampledEvent(0.01, gaussianEvent(0.9)), 500)]);
    expect(rel(new RdpAccountant().compose(mixed).epsilon(1e-6), 5.699820477199411)).toBeLessThan(1e-9);
    // a composition of Gaussians inside the sampling is one Gaussian with the effective multiplier
    const nested = new RdpAccountant().compose(poissonSampledEvent(0.04, selfComposedEvent(gaussianEvent(1.5 * Math.SQRT2), 2)), 1000);
    for (let i = 0; i < a.rdp.length; i++) expect(rel(nested.rdp[i]!, a.rdp[i]!)).toBeLessThan(1e-12);
  });

  test('sampling without replacement (replace-one) matches dp_accounting; refused under add/remove', () => {
    const e = sampledWithoutReplacementEvent(1000, 10, gaussianEvent(1.0));
    const acc = new RdpAccountant({ neighboringRelation: 'replace_one' }).compose(e, 100);
    expect(rel(acc.epsilon(1e-5), 1.482525669114427)).toBeLessThan(1e-9);
    const plain = new RdpAccountant();
    expectFedveilError(() => plain.compose(e), UnsupportedEvent, 'UNSUPPORTED_EVENT');
    expect(plain.supports(e)).toBe(false);
    expect(Array.from(plain.rdp).every((v) => v === 0)).toBe(true); // state unchanged
  });

  test('conversion edge cases: delta 0, zero RDP, order < 1 rejected', () => {
    expect(rdpToEpsilon([2, 3], [0, 0], 0).epsilon).toBe(0);
    expect(rdpToEpsilon([2, 3], [0.1, 0.2], 0).epsilon).toBe(Infinity);
    expect(rdpToDelta([2], [0], 1).delta).toBe(0);
    expectFedveilError(() => rdpToEpsilon([0.5], [1], 1e-5), InvalidArgument, 'INVALID_ARGUMENT');
    expectFedveilError(() => new RdpAccountant({ orders: [0.9] }), InvalidArgument, 'INVALID_ARGUMENT');
    expect(new RdpAccountant().compose(poissonGaussianRounds(1, 0, 100)).epsilon(1e-5)).toBe(0);
    expect(new RdpAccountant().compose(gaussianEvent(0)).epsilon(1e-5)).toBe(Infinity);
  });
});

interface TinyVectors {
  orders: number[];
  cases: { kind: 'linear' | 'flat'; rho: number; delta?: number; epsilon?: number; epsilonTarget?: number; deltaResult?: number; order: number }[];
}
const TINY = JSON.parse(readFileSync(new URL('../vectors/dp-accounting-rdp-tiny.json', import.meta.url), 'utf8')) as TinyVectors;

describe('very private mechanisms: RDP ~1e-7 -> (eps, delta) against dp_accounting (test/vectors/dp-accounting-rdp-tiny.json)', () => {
  const curve = (kind: 'linear' | 'flat', rho: number, orders: readonly number[]) => orders.map((a) => (kind === 'linear' ? a * rho : rho));
  test('the vectors use dp_accounting\'s default orders', () => {
    expect(TINY.orders).toEqual([...DP_ACCOUNTING_RDP_ORDERS]);
  });
  for (const c of TINY.cases) {
    if (c.delta !== undefined) {
      test(`${c.kind} rho=${c.rho}: epsilon at delta ${c.delta} equals dp_accounting's; more orders give less`, () => {
        const r = rdpToEpsilon(TINY.orders, curve(c.kind, c.rho, TINY.orders), c.delta!);
        expect(rel(r.epsilon, c.epsilon!)).toBeLessThan(1e-12);
        expect(r.order).toBe(c.order);
        const wide = rdpToEpsilon(DEFAULT_RDP_ORDERS, curve(c.kind, c.rho, DEFAULT_RDP_ORDERS), c.delta!);
        expect(wide.epsilon).toBeLessThan(c.epsilon!);
        expect(wide.epsilon).toBeGreaterThan(0);
      });
    } else {
      test(`${c.kind} rho=${c.rho}: delta at epsilon ${c.epsilonTarget} equals dp_accounting's`, () => {
        const r = rdpToDelta(TINY.orders, curve(c.kind, c.rho, TINY.orders), c.epsilonTarget!);
        expect(rel(r.delta, c.deltaResult!)).toBeLessThan(1e-10);
        expect(r.order).toBe(c.order);
      });
    }
  }
  test('through the accountant: a Gaussian with rho = 1/(2 z^2) = 1e-7', () => {
    const z = Math.sqrt(1 / (2 * 1e-7));
    const want = TINY.cases.find((c) => c.kind === 'linear' && c.rho === 1e-7 && c.delta === 1e-5)!.epsilon!;
    expect(rel(new RdpAccountant({ orders: DP_ACCOUNTING_RDP_ORDERS }).compose(gaussianEvent(z)).epsilon(1e-5), want)).toBeLessThan(1e-9);
  });
});

