// The README's low-level example, run through the package's main entry
// point (src/index.ts): plan -> privatize on each client -> secure
// aggregation with dropouts -> decode -> account. If the public API drifts
// from what README shows, this test breaks.
import {
  planDistributedDp, planRound, privatizeUpdate, decodeAggregate, runSecAggRound, makeConfig,
  findSecAggPlusParams, RdpAccountant, deterministicRandom, ThresholdNotMet,
  sampleDiscreteGaussian, sampleSkellam, PldAccountant, InvalidArgument, UnsupportedEvent,
} from '../src/index.js';
import { expectFedveilError, expectFedveilRejection } from './expect-error.js';

describe('public API (README low-level example)', () => {
  test('privatize -> secure sum with dropouts -> decode recovers the mean within the planned noise', async () => {
    const rng = deterministicRandom(42);
    const n = 12;
    const dim = 300;
    const plan = planDistributedDp({
      clipNorm: 1, noiseMultiplier: 0.5, expectedClients: n, minClients: 8, maxClients: n,
      dim, bits: 24, mechanism: 'ddg', samplingRate: 0.1,
    });
    const round = planRound(plan, undefined, rng);
    // Updates with norm well below the clip norm, so clipping is the identity.
    const updates = Array.from({ length: n }, (_, i) => {
      const u = new Float32Array(dim);
      for (let j = 0; j < dim; j++) u[j] = 0.02 * Math.sin(i + j);
      return u;
    });
    const inputs = updates.map((u) => privatizeUpdate(u, round, rng));
    const config = makeConfig({ n, dim: plan.paddedDim, bits: plan.bits, threshold: 8, seed: new Uint8Array(32).fill(7) });
    const dropped = [3, 9];
    const { sum, survivors } = await runSecAggRound({ inputs, config, dropouts: { beforeMaskedInput: dropped }, rng });
    expect(survivors.sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i + 1).filter((id) => !dropped.includes(id)));
    const mean = decodeAggregate(sum, round, survivors.length);
    expect(mean.length).toBe(dim);
    // True mean of the survivors' updates.
    const truth = new Float64Array(dim);
    for (const id of survivors) for (let j = 0; j < dim; j++) truth[j]! += updates[id - 1]![j]! / survivors.length;
    let err2 = 0;
    for (let j = 0; j < dim; j++) err2 += (mean[j]! - truth[j]!) ** 2;
    // Central noise std per coordinate is about z*C = 0.5 (plus rounding), divided by the count;
    // the error's RMS must be of that order and far below the signal scale of a broken decode.
    const rms = Math.sqrt(err2 / dim);
    const predicted = 0.5 / survivors.length;
    expect(rms).toBeGreaterThan(0.5 * predicted);
    expect(rms).toBeLessThan(2 * predicted);
  });

  test('accounting of the plan event, and typed errors at the boundary', async () => {
    const plan = planDistributedDp({ clipNorm: 1, noiseMultiplier: 1.1, expectedClients: 100, minClients: 60, dim: 1000, bits: 20, mechanism: 'ddg', samplingRate: 0.01 });
    const eps = new RdpAccountant().compose(plan.event, 100).epsilon(1e-5);
    expect(eps).toBeGreaterThan(0);
    expect(Number.isFinite(eps)).toBe(true);
    expectFedveilError(() => new PldAccountant().compose(plan.event, 1), UnsupportedEvent, 'UNSUPPORTED_EVENT');
    expect(findSecAggPlusParams({ clients: 1000, dropout: 0.05, corrupt: 0.05 })).toMatchObject({ degree: 30, threshold: 17, graph: 'harary' });
    expect(sampleDiscreteGaussian(3, 10).length).toBe(10);
    expect(sampleSkellam(3, 10).length).toBe(10);
    expectFedveilError(() => privatizeUpdate(new Float32Array(5), planRound(plan)), InvalidArgument, 'INVALID_ARGUMENT');
    const config = makeConfig({ n: 4, dim: 8, bits: 16, threshold: 3 });
    const inputs = Array.from({ length: 4 }, () => new Uint32Array(8));
    await expectFedveilRejection(runSecAggRound({ inputs, config, dropouts: { beforeMaskedInput: [1, 2] } }), ThresholdNotMet, 'THRESHOLD_NOT_MET');
  });
});
