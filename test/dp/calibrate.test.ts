/** Noise calibration: the returned multiplier meets the target and is within the tolerance of the minimum. */
import { InfeasibleParameters, InvalidArgument } from '../../src/errors.js';
import { calibrateNoiseMultiplier, computeEpsilon, poissonGaussianRounds } from '../../src/dp/index.js';
import { expectFedveilError } from '../expect-error.js';

describe('calibrateNoiseMultiplier', () => {
  test.each(['rdp', 'gdp', 'pld'] as const)('%s: meets (eps, delta) and z - tolerance does not', (accountant) => {
    const req = { epsilon: 2, delta: 1e-5, samplingProbability: 120 / 3383, rounds: 100, accountant, tolerance: 1e-3 };
    const r = calibrateNoiseMultiplier(req);
    expect(r.epsilon).toBeLessThanOrEqual(2);
    const below = computeEpsilon(poissonGaussianRounds(r.noiseMultiplier - 1e-3, req.samplingProbability, 100), 1e-5, accountant).epsilon;
    expect(below).toBeGreaterThan(2);
    if (accountant === 'gdp') expect(r.approximate).toBe(true);
  });

  test('TFF setting: RDP needs z just under 1.2 at q = 120/3383 (c = 120 meets eps = 2)', () => {
    const r = calibrateNoiseMultiplier({ epsilon: 2, delta: 1e-5, samplingProbability: 120 / 3383, rounds: 100 });
    expect(r.noiseMultiplier).toBeLessThanOrEqual(1.2);
    expect(r.noiseMultiplier).toBeGreaterThan(1.15);
  });

  test('infeasible targets throw InfeasibleParameters', () => {
    expectFedveilError(() => calibrateNoiseMultiplier({ epsilon: 1e-6, delta: 1e-10, samplingProbability: 1, rounds: 1000, maxNoiseMultiplier: 100 }), InfeasibleParameters, 'INFEASIBLE_PARAMETERS');
    expectFedveilError(() => calibrateNoiseMultiplier({ epsilon: 1, delta: 0, samplingProbability: 1, rounds: 1 }), InvalidArgument, 'INVALID_ARGUMENT');
  });
});
