/**
 * Wiring of the other layers into a simulation: the secure aggregator
 * (secagg/ runSecAggRound) and the distributed-DP plan provider with its
 * ledger (dp/ planDistributedDp, privatizeUpdate, decodeAggregate,
 * calibrateNoiseMultiplier, PrivacyLedger). This file is the one place that
 * knows the other layers' entry points.
 *
 * Private plan of a run (fixed for all rounds except the public rotation
 * seed, which is fresh every round):
 * - expected clients m = round(q N); minClients t = max(2, floor(m (1 - p)
 *   - 2 sqrt(m))) so a round aborts (spending nothing) only when sampling
 *   or dropouts leave fewer than t survivors (~2% of rounds); maxClients =
 *   ceil(m + 6 sqrt(m)) + 2 sizes the overflow bound (rosters above it
 *   abort; probability < 1e-8).
 * - the noise multiplier z is calibrated on the EXACT event the ledger will
 *   record: T rounds of poisson_sampled(q, discrete_gaussian | skellam) with
 *   the plan's scale, dimension and t (not a continuous-Gaussian stand-in).
 * - the decoded sum is divided by m (1 - p), the expected number of
 *   summands (fixed-denominator estimator of McMahan et al. 2018), so the
 *   update does not depend on the realised count.
 */
import { InvalidArgument } from '../errors.js';
import type { RandomSource } from '../crypto/random.js';
import { makeConfig, runSecAggRound } from '../secagg/index.js';
import { planDistributedDp, planRound, type DistributedDpPlan, type DistributedDpRequest } from '../dp/plan.js';
import { calibrateNoiseMultiplier } from '../dp/calibrate.js';
import { selfComposedEvent } from '../dp/events.js';
import { PrivacyLedger, generateLedgerKey } from '../dp/ledger.js';
import type { LedgerRoundParams } from '../dp/ledger-format.js';
import type { Aggregator, AggregationRequest, AggregationResult } from './aggregate.js';
import { dpCodec, type RoundCodec } from './codec.js';

export { dpCodec };
import type { PrivacyProvider } from './coordinator.js';
import type { SimulationLayers, SimulationParams } from './simulation.js';

/** The real secure-aggregation protocol, in memory (secagg/ runSecAggRound). */
export function secureAggregator(): Aggregator {
  return Object.freeze({
    name: 'secagg' as const,
    async aggregate(req: AggregationRequest): Promise<AggregationResult> {
      const n = req.inputs.length;
      const config = makeConfig({
        n, threshold: req.threshold, dim: req.inputs[0]!.length, bits: req.bits, graph: req.graph,
        ...(req.graph === 'harary' ? { degree: req.degree } : {}), seed: req.seed, round: req.round,
      });
      const r = await runSecAggRound({ inputs: [...req.inputs], config, dropouts: req.dropouts, rng: req.rng });
      const bytes = r.stats.bytesUp.reduce((a, b) => a + b, 0) + r.stats.bytesDown.reduce((a, b) => a + b, 0);
      return { sum: r.sum, survivors: r.survivors, bytes };
    },
  });
}

export interface PrivatePlanInput {
  population: number;
  sampleRate: number;
  rounds: number;
  epsilon: number;
  delta: number;
  mechanism: 'ddg' | 'skellam';
  accountant: 'rdp' | 'pld';
  clipNorm: number;
  bits: number;
  dropout: number;
  dim: number;
  noiseMultiplier?: number;
}

export interface PrivatePlan {
  readonly plan: DistributedDpPlan;
  readonly expectedClients: number;
  readonly minClients: number;
  readonly maxClients: number;
  readonly denominator: number;
  /** Epsilon the calibration predicts after all rounds. */
  readonly predictedEpsilon: number;
}

/** Plan the run's distributed DP: t, maxClients, calibrated z and the integer plan. */
export function planPrivateRun(p: PrivatePlanInput, rng: RandomSource): PrivatePlan {
  const m = Math.max(1, Math.round(p.sampleRate * p.population));
  const minClients = Math.max(2, Math.min(m, Math.floor(m * (1 - p.dropout) - 2 * Math.sqrt(m))));
  const maxClients = Math.min(p.population, Math.ceil(m + 6 * Math.sqrt(m)) + 2);
  const request = (z: number): DistributedDpRequest => ({
    clipNorm: p.clipNorm, noiseMultiplier: z, expectedClients: m, minClients, maxClients, dim: p.dim, bits: p.bits,
    mechanism: p.mechanism, samplingRate: p.sampleRate, rotationSeed: new Uint8Array(32),
  });
  let z = p.noiseMultiplier;
  let predicted: number;
  if (z === undefined) {
    const cal = calibrateNoiseMultiplier({
      epsilon: p.epsilon, delta: p.delta, samplingProbability: p.sampleRate, rounds: p.rounds, accountant: p.accountant, tolerance: 1e-3,
      event: (zz) => selfComposedEvent(planDistributedDp(request(zz), rng).event, p.rounds),
    });
    z = cal.noiseMultiplier;
    predicted = cal.epsilon;
  } else {
    predicted = NaN;
  }
  const plan = planDistributedDp(request(z), rng);
  return Object.freeze({ plan, expectedClients: m, minClients, maxClients, denominator: Math.max(1, m * (1 - p.dropout)), predictedEpsilon: predicted });
}

/** The coordinator's per-round provider for a planned private run. */
export function privateProvider(run: PrivatePlan, rng: RandomSource): PrivacyProvider {
  const { plan } = run;
  const params: LedgerRoundParams = {
    mechanism: plan.mechanism, clipNorm: plan.clipNorm, noiseMultiplier: plan.noiseMultiplier, samplingRate: (plan.event as { samplingProbability: number }).samplingProbability,
    expectedClients: run.expectedClients, minClients: run.minClients, survivors: 0, dimension: plan.dim, paddedDimension: plan.paddedDim,
    bits: plan.bits, scale: plan.scale,
  };
  return ({ seed }) => {
    // A fresh public rotation seed per round (drawn by the coordinator from the CSPRNG / rng).
    const roundPlan = planRound(plan, seed, rng);
    return Object.freeze({
      codec: dpCodec(roundPlan), event: roundPlan.event, minClients: run.minClients, maxClients: run.maxClients,
      params, denominator: run.denominator,
    });
  };
}

/** Everything the simulation needs from the other layers. */
export function simulationLayers(): SimulationLayers {
  return {
    secureAggregator,
    async privateProvider({ params, dim, rng }: { params: SimulationParams; dim: number; rng: RandomSource }) {
      const run = planPrivateRun({
        population: params.clients, sampleRate: params.sampleRate, rounds: params.rounds, epsilon: params.epsilon, delta: params.delta,
        mechanism: params.mechanism, accountant: params.accountant, clipNorm: params.clipNorm, bits: params.bits, dropout: params.dropout, dim,
        ...(params.noiseMultiplier === undefined ? {} : { noiseMultiplier: params.noiseMultiplier }),
      }, rng);
      if (!params.ledger) throw new InvalidArgument('a private simulation needs a ledger path');
      // The ledger key always comes from the system CSPRNG, even in a seeded simulation.
      const key = generateLedgerKey();
      const { plan } = run;
      const ledger = await PrivacyLedger.create(params.ledger, {
        secretKey: key.secretKey, delta: params.delta, epsilonBudget: params.epsilon, accountant: params.accountant,
        description: `fedveil simulate: ${params.clients} clients, q=${params.sampleRate}, ${params.rounds} rounds, ${params.model}, ${params.split} split`,
        params: {
          mechanism: plan.mechanism, clipNorm: plan.clipNorm, noiseMultiplier: plan.noiseMultiplier, samplingRate: params.sampleRate,
          expectedClients: run.expectedClients, minClients: run.minClients, dimension: plan.dim, paddedDimension: plan.paddedDim, bits: plan.bits, scale: plan.scale,
        },
      });
      return { provider: privateProvider(run, rng), noiseMultiplier: plan.noiseMultiplier, minClients: run.minClients, ledger, plan: run };
    },
  };
}

export interface PrivateCoordinatorOptions {
  /** The global model. */
  model: import('@tensorflow/tfjs').LayersModel;
  clients: readonly import('./client.js').PrivateClient[];
  strategy?: import('./strategy.js').Strategy;
  /** Target user-level (epsilon, delta) after `rounds` rounds; z is calibrated unless `noiseMultiplier` is given. */
  privacy: {
    epsilon: number;
    delta: number;
    rounds: number;
    clipNorm: number;
    mechanism?: 'ddg' | 'skellam';
    accountant?: 'rdp' | 'pld';
    noiseMultiplier?: number;
    bits?: number;
  };
  secagg?: import('./coordinator.js').SecAggOptions;
  sampleRate: number;
  /** Ledger file to create (its signing key: `ledgerKey`, default a fresh one). */
  ledger: string;
  ledgerKey?: Uint8Array;
  /** Expected dropout fraction (sizes t; also injected in simulation when `injectDropouts`). */
  dropout?: number;
  injectDropouts?: boolean;
  evaluate?: (model: import('@tensorflow/tfjs').LayersModel) => number;
  rng?: RandomSource;
}

/**
 * The high-level entry point (README, docs/fl.md): a Coordinator with calibrated
 * distributed DP, a fresh signed ledger and the secure-aggregation protocol.
 * Close the returned ledger when done.
 */
export async function createPrivateCoordinator(o: PrivateCoordinatorOptions): Promise<{ coordinator: import('./coordinator.js').Coordinator; ledger: PrivacyLedger; plan: PrivatePlan }> {
  const { Coordinator } = await import('./coordinator.js');
  const { parameterCount } = await import('./weights.js');
  const { systemRandom } = await import('../crypto/random.js');
  const rng = o.rng ?? systemRandom;
  const mechanism = o.privacy.mechanism ?? 'ddg';
  const accountant = o.privacy.accountant ?? 'rdp';
  const plan = planPrivateRun({
    population: o.clients.length, sampleRate: o.sampleRate, rounds: o.privacy.rounds, epsilon: o.privacy.epsilon, delta: o.privacy.delta,
    mechanism, accountant, clipNorm: o.privacy.clipNorm, bits: o.privacy.bits ?? 20, dropout: o.dropout ?? 0, dim: parameterCount(o.model),
    ...(o.privacy.noiseMultiplier === undefined ? {} : { noiseMultiplier: o.privacy.noiseMultiplier }),
  }, rng);
  const ledger = await PrivacyLedger.create(o.ledger, {
    secretKey: o.ledgerKey ?? generateLedgerKey().secretKey, delta: o.privacy.delta, epsilonBudget: o.privacy.epsilon, accountant,
  });
  const coordinator = new Coordinator({
    model: o.model, clients: o.clients, sampleRate: o.sampleRate, privacy: privateProvider(plan, rng), aggregator: secureAggregator(), ledger, rng,
    ...(o.strategy ? { strategy: o.strategy } : {}), ...(o.secagg ? { secagg: o.secagg } : {}), ...(o.evaluate ? { evaluate: o.evaluate } : {}),
    ...(o.injectDropouts ? { dropoutRate: o.dropout ?? 0 } : {}),
  });
  return { coordinator, ledger, plan };
}
