/**
 * A complete federated-learning simulation on MNIST: the engine behind
 * `fedveil simulate` and bench/fl.ts. It builds the data split, the
 * clients, the global model, the privacy plan and the ledger, then runs the
 * coordinator.
 *
 * SIMULATION, NOT A DEPLOYMENT: every client lives in this process and
 * trains in turn on one shared model instance; with a `seed`, all
 * randomness (split, sampling, dropouts, batch order, rounding, noise,
 * secure-aggregation keys) comes from deterministicRandom(seed), which
 * makes runs reproducible and would be unacceptable for real keys and noise.
 * Without a seed the system CSPRNG is used.
 */
import type * as tf from '@tensorflow/tfjs';
import { deterministicRandom, systemRandom, type RandomSource } from '../crypto/random.js';
import { InvalidArgument } from '../errors.js';
import { aint, anumber, aoneOf } from '../util/assert.js';
import { selectBackend, type BackendPreference, type BackendReport } from './backend.js';
import { PrivateClient } from './client.js';
import { Coordinator, type PrivacyProvider, type RoundReport } from './coordinator.js';
import { plainSumAggregator, type Aggregator } from './aggregate.js';
import { loadMnist, subset, type LabelledData } from './mnist.js';
import { nonPrivate } from './privacy.js';
import { splitDirichlet, splitIid, splitShards } from './splits.js';
import { fedAdam, fedAvg, fedYogi, type Strategy } from './strategy.js';
import { build2nn, buildMlp, evaluateAccuracy } from './train.js';
import { parameterCount } from './weights.js';
import { DEFAULT_SIMULATION, type SimulationParams } from './simulation-params.js';

export { DEFAULT_SIMULATION, type ModelName, type SimulationParams, type SplitName, type StrategyName } from './simulation-params.js';

export interface SimulationSetup {
  readonly params: Readonly<SimulationParams>;
  readonly backend: BackendReport;
  readonly coordinator: Coordinator;
  readonly dim: number;
  readonly examplesPerClient: { min: number; max: number; mean: number };
  /** Noise multiplier in use (null when non-private). */
  readonly noiseMultiplier: number | null;
  readonly minClients: number;
  close(): Promise<void>;
}

export interface SimulationResult {
  readonly rounds: RoundReport[];
  readonly stoppedBy?: string;
  /**
   * `epsilon`: the ledger's, amplified by sampling (`guarantee`
   * 'model-observers': against observers of the released models, valid only
   * if sampling was done as recorded); `againstCoordinator`: without
   * amplification, for the simulated client with the most participations
   * and the median client (null when non-private).
   */
  readonly final: {
    accuracy: number; epsilon: number; delta: number;
    guarantee: import('../dp/events.js').Guarantee | null;
    againstCoordinator: import('../dp/participants.js').CoordinatorEpsilon | null;
  };
}

function validate(p: SimulationParams): void {
  aint('clients', p.clients, 2);
  aint('rounds', p.rounds, 1);
  anumber('sampleRate', p.sampleRate, 1e-9, 1);
  anumber('dropout', p.dropout, 0, 0.5);
  aoneOf('split', p.split, ['iid', 'shards', 'dirichlet'] as const);
  aoneOf('model', p.model, ['2nn', 'mlp', 'linear'] as const);
  aoneOf('strategy', p.strategy, ['fedavg', 'fedadam', 'fedyogi'] as const);
  aoneOf('mechanism', p.mechanism, ['ddg', 'skellam'] as const);
  aoneOf('aggregation', p.aggregation, ['secagg', 'plain-sum'] as const);
  aint('trainExamples', p.trainExamples, 1, 60000);
  aint('testExamples', p.testExamples, 1, 10000);
  if (p.trainExamples < p.clients) throw new InvalidArgument(`${p.trainExamples} training examples cannot be split across ${p.clients} clients`);
}

function buildModel(p: SimulationParams, seed: number): tf.LayersModel {
  if (p.model === '2nn') return build2nn(seed);
  if (p.model === 'linear') return buildMlp(784, [], 10, seed);
  return buildMlp(784, [p.hidden], 10, seed);
}

function buildStrategy(p: SimulationParams): Strategy {
  if (p.strategy === 'fedadam') return fedAdam({ serverLearningRate: p.serverLearningRate });
  if (p.strategy === 'fedyogi') return fedYogi({ serverLearningRate: p.serverLearningRate });
  return fedAvg({ serverLearningRate: p.serverLearningRate });
}

/** Hooks for the parts other layers provide (secure aggregation, distributed DP, ledger). */
export interface SimulationLayers {
  /** The secure aggregator (secagg layer). Required when `aggregation` is 'secagg'. */
  secureAggregator?: () => Aggregator;
  /** The private plan provider and its ledger (dp layer). Required when `privacy` is true. */
  privateProvider?: (ctx: { params: SimulationParams; dim: number; rng: RandomSource }) => Promise<{ provider: PrivacyProvider; noiseMultiplier: number; minClients: number; ledger?: import('../dp/ledger.js').PrivacyLedger }>;
}

/** Build everything for a run (loads MNIST, selects the backend). */
export async function setupSimulation(overrides: Partial<SimulationParams>, layers: SimulationLayers = {}): Promise<SimulationSetup> {
  const params: SimulationParams = { ...DEFAULT_SIMULATION, ...overrides };
  validate(params);
  const backend = await selectBackend(params.backend);
  const rng = params.seed === undefined ? systemRandom : deterministicRandom(params.seed);
  const { train: fullTrain, test: fullTest } = await loadMnist({ trainLimit: params.trainExamples, testLimit: params.testExamples });
  const parts = params.split === 'iid'
    ? splitIid(fullTrain.n, params.clients, rng)
    : params.split === 'shards'
      ? splitShards(fullTrain.labels, params.clients, 2, rng)
      : splitDirichlet(fullTrain.labels, params.clients, params.alpha, rng, 1);
  const modelSeed = params.seed ?? 1;
  const shared = buildModel(params, modelSeed);
  const global = buildModel(params, modelSeed);
  const clients = parts.map((idx) => new PrivateClient({
    model: shared, data: subset(fullTrain, idx), epochs: params.epochs, batchSize: params.batchSize,
    learningRate: params.learningRate, proximalMu: params.proximalMu, rng,
  }));
  const sizes = parts.map((p) => p.length);
  const dim = parameterCount(global);
  const test: LabelledData = fullTest;

  let aggregator: Aggregator;
  if (params.aggregation === 'plain-sum') aggregator = plainSumAggregator();
  else {
    if (!layers.secureAggregator) throw new InvalidArgument('secure aggregation is not available in this build');
    aggregator = layers.secureAggregator();
  }
  let provider: PrivacyProvider;
  let noiseMultiplier: number | null = null;
  let minClients = 1;
  let ledger: import('../dp/ledger.js').PrivacyLedger | undefined;
  if (params.privacy) {
    if (!layers.privateProvider) throw new InvalidArgument('distributed DP is not available in this build: use --no-privacy');
    const made = await layers.privateProvider({ params, dim, rng });
    provider = made.provider;
    noiseMultiplier = made.noiseMultiplier;
    minClients = made.minClients;
    ledger = made.ledger;
  } else {
    provider = nonPrivate();
  }
  const evalEvery = params.evalEvery;
  let round = 0;
  const coordinator = new Coordinator({
    model: global, clients, sampleRate: params.sampleRate, strategy: buildStrategy(params), privacy: provider, aggregator,
    secagg: { dropout: Math.min(0.3, Math.max(params.dropout * 2, 0.05)), corrupt: 0.05 }, dropoutRate: params.dropout,
    ...(ledger ? { ledger } : {}),
    evaluate: (m) => {
      round++;
      return round % evalEvery === 0 || round === params.rounds ? evaluateAccuracy(m, test) : NaN;
    },
    rng,
  });
  return Object.freeze({
    params, backend, coordinator, dim, noiseMultiplier, minClients,
    examplesPerClient: { min: Math.min(...sizes), max: Math.max(...sizes), mean: sizes.reduce((a, b) => a + b, 0) / sizes.length },
    async close(): Promise<void> {
      await ledger?.close();
      shared.dispose();
      global.dispose();
    },
  });
}

/** Run a set-up simulation to the end. */
export async function runSimulation(setup: SimulationSetup, onRound?: (r: RoundReport) => void): Promise<SimulationResult> {
  const { rounds, stoppedBy } = await setup.coordinator.run({ rounds: setup.params.rounds, ...(onRound ? { onRound } : {}) });
  const last = [...rounds].reverse().find((r) => Number.isFinite(r.accuracy));
  return {
    rounds,
    ...(stoppedBy === undefined ? {} : { stoppedBy }),
    final: {
      accuracy: last?.accuracy ?? NaN, epsilon: setup.coordinator.epsilon, delta: setup.params.privacy ? setup.params.delta : 0,
      guarantee: setup.coordinator.epsilonGuarantee, againstCoordinator: setup.coordinator.againstCoordinator,
    },
  };
}
