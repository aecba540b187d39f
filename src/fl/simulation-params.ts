/**
 * Parameters of a federated MNIST simulation and their defaults, which are
 * also the defaults of `fedveil simulate`. Kept free of tfjs so that the
 * command line can read them without loading it.
 */
import type { BackendPreference } from './backend.js';

export type SplitName = 'iid' | 'shards' | 'dirichlet';
export type ModelName = '2nn' | 'mlp' | 'linear';
export type StrategyName = 'fedavg' | 'fedadam' | 'fedyogi';

export interface SimulationParams {
  clients: number;
  rounds: number;
  sampleRate: number;
  /** false: secure aggregation without clipping or noise (McMahan reproduction). */
  privacy: boolean;
  epsilon: number;
  delta: number;
  mechanism: 'ddg' | 'skellam';
  accountant: 'rdp' | 'pld';
  /** Noise multiplier z; calibrated from (epsilon, delta, rounds, q) when omitted. */
  noiseMultiplier?: number;
  clipNorm: number;
  /** Modulus bits for the private codec. */
  bits: number;
  dropout: number;
  split: SplitName;
  /** Dirichlet concentration. */
  alpha: number;
  model: ModelName;
  /** Hidden units of the `mlp` model. */
  hidden: number;
  epochs: number;
  batchSize: number;
  learningRate: number;
  proximalMu: number;
  strategy: StrategyName;
  serverLearningRate: number;
  /** Training examples used (first n of MNIST train, before splitting). */
  trainExamples: number;
  testExamples: number;
  /** Evaluate test accuracy every k rounds (and at the last). */
  evalEvery: number;
  aggregation: 'secagg' | 'plain-sum';
  seed?: number;
  ledger?: string;
  backend: BackendPreference;
}

/** Defaults of `fedveil simulate` (the CLI's option defaults are read from here). */
export const DEFAULT_SIMULATION: Readonly<SimulationParams> = Object.freeze({
  clients: 1000,
  rounds: 10,
  sampleRate: 0.05,
  privacy: true,
  epsilon: 8,
  delta: 1e-5,
  mechanism: 'ddg',
  accountant: 'rdp',
  clipNorm: 0.5,
  bits: 20,
  dropout: 0.05,
  split: 'iid',
  alpha: 0.5,
  model: 'mlp',
  hidden: 32,
  epochs: 1,
  batchSize: 10,
  learningRate: 0.15,
  proximalMu: 0,
  strategy: 'fedavg',
  serverLearningRate: 1,
  trainExamples: 60000,
  testExamples: 10000,
  evalEvery: 1,
  aggregation: 'secagg',
  backend: 'auto',
});
