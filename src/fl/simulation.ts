/**
 * A complete federated-learning simulation on MNIST: the engine behind
 * `fedveil simulate` and bench/fl.ts. It builds the data split and the
 * model, then runs the one federated runtime in process (in-process.ts): the
 * federated server over the in-memory transport, one participant per
 * client with its own identity, certificate and policy checks.
 *
 * SIMULATION, NOT A DEPLOYMENT: every client lives in this process and
 * trains in turn on one shared model instance; with a `seed`, all
 * randomness (split, sampling, dropouts, batch order, rounding, noise,
 * secure-aggregation keys) comes from deterministicRandom(seed), which
 * makes runs reproducible and would be unacceptable for real keys and noise.
 * Without a seed the system CSPRNG is used.
 */
import type * as tf from '@tensorflow/tfjs';
import { deterministicRandom, systemRandom } from '../crypto/random.js';
import { InvalidArgument } from '../errors.js';
import { aint, anumber, aoneOf } from '../util/assert.js';
import { selectBackend, type BackendReport } from './backend.js';
import { loadMnist, subset, type LabelledData } from './mnist.js';
import { splitDirichlet, splitIid, splitShards } from './splits.js';
import { fedAdam, fedAvg, fedYogi, type Strategy } from './strategy.js';
import { build2nn, buildMlp, evaluateAccuracy } from './train.js';
import { parameterCount } from './weights.js';
import { createInProcessRun, type InProcessRun } from './in-process.js';
import type { RoundReport } from './server.js';
import { DEFAULT_SIMULATION, type SimulationParams } from './simulation-params.js';

export { DEFAULT_SIMULATION, type ModelName, type SimulationParams, type SplitName, type StrategyName } from './simulation-params.js';

export interface SimulationSetup {
  readonly params: Readonly<SimulationParams>;
  readonly backend: BackendReport;
  readonly run: InProcessRun;
  readonly dim: number;
  readonly examplesPerClient: { min: number; max: number; mean: number };
  /** Noise multiplier in use (null when non-private). */
  readonly noiseMultiplier: number | null;
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
  if (p.privacy && !p.ledger) throw new InvalidArgument('a private simulation needs a ledger path');
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

/** Build everything for a run (loads MNIST, selects the backend). */
export async function setupSimulation(overrides: Partial<SimulationParams>): Promise<SimulationSetup> {
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
  const sizes = parts.map((p) => p.length);
  const test: LabelledData = fullTest;
  const evalEvery = params.evalEvery;
  const run = await createInProcessRun({
    model: () => buildModel(params, modelSeed),
    clients: parts.map((idx) => ({ data: subset(fullTrain, idx) })),
    training: { epochs: params.epochs, batchSize: params.batchSize, learningRate: params.learningRate, proximalMu: params.proximalMu },
    rounds: params.rounds, sampleRate: params.sampleRate, dropout: params.dropout, aggregation: params.aggregation,
    strategy: buildStrategy(params), rng,
    privacy: params.privacy ? {
      epsilon: params.epsilon, delta: params.delta, clipNorm: params.clipNorm, mechanism: params.mechanism, accountant: params.accountant, bits: params.bits, ledger: params.ledger!,
      ...(params.noiseMultiplier === undefined ? {} : { noiseMultiplier: params.noiseMultiplier }),
    } : null,
    evaluate: (m, round) => (round % evalEvery === 0 || round === params.rounds ? evaluateAccuracy(m, test) : NaN),
  });
  return Object.freeze({
    params, backend, run, dim: parameterCount(run.server.model), noiseMultiplier: run.noiseMultiplier,
    examplesPerClient: { min: Math.min(...sizes), max: Math.max(...sizes), mean: sizes.reduce((a, b) => a + b, 0) / sizes.length },
    async close(): Promise<void> {
      await run.close();
    },
  });
}

/** Run a set-up simulation to the end. */
export async function runSimulation(setup: SimulationSetup, onRound?: (r: RoundReport) => void): Promise<SimulationResult> {
  const { rounds, stoppedBy } = await setup.run.run(onRound);
  const last = [...rounds].reverse().find((r) => Number.isFinite(r.accuracy));
  const lastPrivate = [...rounds].reverse().find((r) => r.guarantee !== null);
  return {
    rounds,
    ...(stoppedBy === undefined ? {} : { stoppedBy }),
    final: {
      accuracy: last?.accuracy ?? NaN, epsilon: rounds.at(-1)?.epsilon ?? 0, delta: setup.params.privacy ? setup.params.delta : 0,
      guarantee: lastPrivate?.guarantee ?? null, againstCoordinator: lastPrivate?.againstCoordinator ?? null,
    },
  };
}
