/** Events: JSON round trip, validation at the boundary, dispatch of distributed events to distributedRdp. */
import {
  RdpAccountant,
  UnsupportedEvent,
  composedEvent,
  computeEpsilon,
  createAccountant,
  describeEvent,
  distributedRdp,
  gaussianEvent,
  poissonGaussianRounds,
  sampledWithoutReplacementEvent,
  selfComposedEvent,
  toDpAccountingPython,
  validateEvent,
  type DpEvent,
  type SkellamEvent,
} from '../../src/dp/index.js';
import { InvalidArgument } from '../../src/errors.js';
import { expectFedveilError } from '../expect-error.js';

const skellam: SkellamEvent = { type: 'skellam', mu: 400, clients: 10, l2Sensitivity: 64, l1Sensitivity: 2048, dimension: 1024 };

describe('privacy events', () => {
  test('JSON round trip gives an event every accountant treats identically', () => {
    const e = composedEvent([poissonGaussianRounds(1.1, 0.01, 300), sampledWithoutReplacementEvent(1000, 10, gaussianEvent(2))]);
    const back: unknown = JSON.parse(JSON.stringify(e));
    validateEvent(back);
    expect(back).toEqual(e);
    expect(describeEvent(e)).toBe('composed(self_composed(poisson_sampled(0.01, gaussian(1.1)), 300), sampled_without_replacement(10/1000, gaussian(2)))');
  });

  test('toDpAccountingPython gives the dp_accounting constructor expression (checked to evaluate in dp_accounting)', () => {
    const e = composedEvent([poissonGaussianRounds(1.5, 0.04, 2250), sampledWithoutReplacementEvent(1000, 10, gaussianEvent(2)), skellam]);
    expect(toDpAccountingPython(e)).toBe(
      'dp_accounting.ComposedDpEvent([dp_accounting.SelfComposedDpEvent(dp_accounting.PoissonSampledDpEvent(0.04, dp_accounting.GaussianDpEvent(1.5)), 2250), ' +
        'dp_accounting.SampledWithoutReplacementDpEvent(1000, 10, dp_accounting.GaussianDpEvent(2)), dp_accounting.UnsupportedDpEvent()])',
    );
  });

  test('validation names the bad field', () => {
    const bad: unknown[] = [
      { type: 'gaussian', noiseMultiplier: -1 },
      { type: 'poisson_sampled', samplingProbability: 1.5, event: { type: 'gaussian', noiseMultiplier: 1 } },
      { type: 'self_composed', event: { type: 'gaussian', noiseMultiplier: 1 }, count: 2.5 },
      { type: 'composed', events: [{ type: 'laplace' }] },
      { type: 'sampled_without_replacement', sourceDatasetSize: 10, sampleSize: 11, event: { type: 'gaussian', noiseMultiplier: 1 } },
      null,
    ];
    for (const b of bad) expectFedveilError(() => validateEvent(b), InvalidArgument, 'INVALID_ARGUMENT');
    expect(() => validateEvent({ type: 'composed', events: [{ type: 'laplace' }] })).toThrow(/event\.events\[0\]\.type/);
    expectFedveilError(() => createAccountant('rdp').compose({ type: 'gaussian', noiseMultiplier: NaN } as DpEvent), InvalidArgument, 'INVALID_ARGUMENT');
  });

  test('distributed events go to distributedRdp (RDP) and are refused by PLD/GDP', () => {
    const orders = [1.5, 2, 8, 32];
    const expected = distributedRdp(skellam, orders);
    const acc = new RdpAccountant({ orders }).compose(skellam, 3);
    for (let i = 0; i < orders.length; i++) expect(acc.rdp[i]).toBeCloseTo(3 * expected[i]!, 12);
    for (const kind of ['pld', 'gdp'] as const) {
      expectFedveilError(() => computeEpsilon(skellam, 1e-5, kind), UnsupportedEvent, 'UNSUPPORTED_EVENT');
      expect(createAccountant(kind).supports(selfComposedEvent(skellam, 2))).toBe(false);
    }
  });
});
