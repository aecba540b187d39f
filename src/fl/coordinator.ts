/**
 * The federated-learning coordinator of a simulation (docs/fl.md): one
 * object that runs rounds of
 *
 *   Poisson client sampling at rate q (Kairouz et al. / McMahan et al. 2018
 *   "Learning Differentially Private Recurrent Language Models": each client
 *   independently with probability q, the sampling the accountant assumes)
 *   -> budget guard (before any client is asked for data)
 *   -> SecAgg+ parameters for the sampled roster (Bell et al. 2020 finder;
 *      the full graph for small rosters), threshold t >= the plan's minClients
 *   -> local training on each sampled client, delta encoded by the round's
 *      codec (distributed DP, or the non-private integer codec)
 *   -> secure aggregation of the integers (dropouts injected)
 *   -> decode the average -> server strategy (FedAvg / FedAdam / FedYogi)
 *   -> ledger line for the completed round (with its participant
 *      commitment: the hashed identities of the clients in the sum), test
 *      accuracy.
 *
 * Two epsilons per round, stated apart: `epsilon` is the ledger's, amplified
 * by the Poisson sampling (against observers of the released models, valid
 * only if sampling was done as recorded); `againstCoordinator` is without
 * amplification, per client, from the rounds each client took part in (the
 * coordinator chooses the sample), for the client with the most
 * participations and the median client of the population.
 *
 * A round whose survivors fall below the threshold aborts cleanly: the
 * global model is unchanged, no budget is spent and no ledger line is
 * written (the server learned nothing; I2). Invariant I6 (noise calibrated
 * to t guaranteed contributors) holds because the secure-aggregation
 * threshold is never below the plan's minClients.
 *
 * Randomness (sampling, dropouts, training order, rounding, noise, secagg
 * keys) comes from one RandomSource (I7); passing deterministicRandom makes
 * a simulation reproducible, which is fine for a simulation and never for a
 * deployment.
 */
import type * as tf from '@tensorflow/tfjs';
import { BudgetExceeded, InvalidArgument, ProtocolAborted } from '../errors.js';
import { randomBelow, randomBytes, randomUnit, systemRandom, type RandomSource } from '../crypto/random.js';
import { aint, anumber } from '../util/assert.js';
import { findSecAggPlusParams } from '../secagg/params.js';
import type { DropoutSchedule, SecAggAdversary, SecAggGraph } from '../secagg/types.js';
import { guaranteeOf, type DpEvent, type Guarantee } from '../dp/events.js';
import type { CoordinatorEpsilon } from '../dp/participants.js';
import type { JsonValue, LedgerRoundParams } from '../dp/ledger-format.js';
import type { PrivacyLedger } from '../dp/ledger.js';
import type { RoundCodec } from './codec.js';
import type { PrivateClient } from './client.js';
import { survivorsOf, type Aggregator } from './aggregate.js';
import type { Strategy } from './strategy.js';
import { fedAvg } from './strategy.js';
import { flattenWeights, setFlatWeights } from './weights.js';

/** What a round's privacy plan contributes to the coordinator. */
export interface RoundPrivacy {
  /** The codec every sampled client encodes with this round. */
  readonly codec: RoundCodec;
  /** The round's DP event (already wrapped in its sampling), or null when non-private. */
  readonly event: DpEvent | null;
  /** Minimum guaranteed contributors t the noise is calibrated to (I6); 1 when non-private. */
  readonly minClients: number;
  /** Ledger parameters of the round (null when non-private); `survivors` is filled in after aggregation. */
  readonly params: LedgerRoundParams | null;
  /** The most summands the codec's overflow bound allows; larger rosters abort (default: unbounded). */
  readonly maxClients?: number;
  /** Divide the decoded sum by this instead of the survivor count (fixed-denominator estimator). */
  readonly denominator?: number;
}

/** Builds a round's privacy plan from the round's public facts. */
export type PrivacyProvider = (round: { round: number; sampled: number; seed: Uint8Array; dim: number }) => RoundPrivacy;

export interface SecAggOptions {
  /** Dropout fraction the SecAgg+ parameters must tolerate (default 0.1). */
  dropout?: number;
  /** Corrupt fraction (default 0.05). */
  corrupt?: number;
  adversary?: SecAggAdversary;
  /** Use the full graph (classic SecAgg) for rosters up to this size (default 16). */
  fullGraphUpTo?: number;
}

export interface CoordinatorOptions {
  /** The global model (weights are read from it at start and written back after each round). */
  model: tf.LayersModel;
  clients: readonly PrivateClient[];
  /** Client sampling rate q in (0, 1]. */
  sampleRate: number;
  strategy?: Strategy;
  privacy: PrivacyProvider;
  aggregator: Aggregator;
  secagg?: SecAggOptions;
  /** Simulation: probability that a sampled client drops out during the protocol. */
  dropoutRate?: number;
  /** Appends one line per completed private round; its guard refuses over-budget rounds. */
  ledger?: PrivacyLedger;
  /** Test accuracy of the global model after a round (e.g. evaluateAccuracy on MNIST test). */
  evaluate?: (model: tf.LayersModel) => number;
  rng?: RandomSource;
  /**
   * The identity of client `index` (0-based) in the ledger's participant
   * commitments, e.g. its public key. Default: the bytes of
   * `fedveil-simulated-client/<index>` (simulated clients have no keys).
   */
  clientIdentity?: (index: number) => Uint8Array;
}

export interface RoundReport {
  readonly round: number;
  readonly sampled: number;
  /** Clients whose update is in the sum (0 when aborted). */
  readonly survived: number;
  readonly threshold: number;
  readonly degree: number;
  readonly graph: SecAggGraph | 'none';
  readonly aborted: boolean;
  readonly reason?: string;
  /** Test accuracy after the round (NaN without `evaluate`). */
  readonly accuracy: number;
  /** Epsilon spent so far (ledger accountant); 0 when non-private; NaN for a private run without a ledger. */
  readonly epsilon: number;
  /**
   * Whom `epsilon` protects against: 'model-observers' when the events are
   * amplified by sampling (valid only if sampling was done as recorded),
   * 'coordinator' otherwise; null when non-private.
   */
  readonly guarantee: Guarantee | null;
  /**
   * Epsilon against the coordinator (no amplification) so far, for the
   * client with the most participations and the median client; null when
   * non-private or without a ledger.
   */
  readonly againstCoordinator: CoordinatorEpsilon | null;
  /** Bytes on the wire, all clients, both directions. */
  readonly bytes: number;
  readonly seconds: number;
  /** Wall time of local training (all sampled clients). */
  readonly trainSeconds: number;
  /** Wall time of encoding + secure aggregation + decoding. */
  readonly privacySeconds: number;
  /** Of which: client-side encoding (clip, rotate, round, noise, wrap), summed over clients. */
  readonly encodeSeconds: number;
  /** Of which: the aggregation protocol (all clients and the server, in memory). */
  readonly aggregateSeconds: number;
  readonly meanLoss: number;
}

export class Coordinator {
  readonly model: tf.LayersModel;
  readonly clients: readonly PrivateClient[];
  readonly sampleRate: number;
  readonly strategy: Strategy;
  private readonly opts: CoordinatorOptions;
  private readonly rng: RandomSource;
  private global: Float32Array;
  private roundNumber = 0;
  private completed = 0;
  private epsilonSpent = 0;
  private guarantee: Guarantee | null = null;
  private coordinatorSpent: CoordinatorEpsilon | null = null;

  constructor(opts: CoordinatorOptions) {
    if (!opts || typeof opts !== 'object') throw new InvalidArgument('Coordinator: options required');
    if (!Array.isArray(opts.clients) || opts.clients.length < 1) throw new InvalidArgument('Coordinator: at least one client required');
    anumber('sampleRate', opts.sampleRate, 0, 1);
    if (opts.sampleRate === 0) throw new InvalidArgument('sampleRate must be > 0');
    anumber('dropoutRate', opts.dropoutRate ?? 0, 0, 1);
    this.opts = opts;
    this.model = opts.model;
    this.clients = opts.clients;
    this.sampleRate = opts.sampleRate;
    this.strategy = opts.strategy ?? fedAvg();
    this.rng = opts.rng ?? systemRandom;
    this.global = flattenWeights(opts.model);
  }

  /** Current global weights (a copy). */
  weights(): Float32Array {
    return Float32Array.from(this.global);
  }

  /** Rounds that completed (had a result). */
  get completedRounds(): number {
    return this.completed;
  }

  /** Epsilon spent so far (0 when non-private). */
  get epsilon(): number {
    return this.epsilonSpent;
  }

  /** Epsilon against the coordinator so far (worst-case and median client), null when non-private or without a ledger. */
  get againstCoordinator(): CoordinatorEpsilon | null {
    return this.coordinatorSpent;
  }

  /** Whom {@link epsilon} protects against (null when non-private). */
  get epsilonGuarantee(): Guarantee | null {
    return this.guarantee;
  }

  /** Poisson sampling: each client independently with probability q (ids 0-based). */
  private sample(): number[] {
    const picked: number[] = [];
    for (let i = 0; i < this.clients.length; i++) if (randomUnit(this.rng) < this.sampleRate) picked.push(i);
    return picked;
  }

  private aborted(base: { round: number; sampled: number; threshold: number; degree: number; graph: SecAggGraph | 'none' }, reason: string, t0: number, trainMs: number, privacyMs: number, bytes: number): RoundReport {
    return Object.freeze({
      ...base, survived: 0, aborted: true, reason, accuracy: this.opts.evaluate ? this.opts.evaluate(this.model) : NaN,
      epsilon: this.epsilonSpent, guarantee: this.guarantee, againstCoordinator: this.coordinatorSpent, bytes, seconds: (performance.now() - t0) / 1000, trainSeconds: trainMs / 1000,
      privacySeconds: privacyMs / 1000, encodeSeconds: NaN, aggregateSeconds: NaN, meanLoss: NaN,
    });
  }

  /** Run one round. Never throws for a round below threshold: it reports `aborted`. Throws BudgetExceeded from the guard. */
  async runRound(): Promise<RoundReport> {
    const t0 = performance.now();
    const round = ++this.roundNumber;
    const sampledIdx = this.sample();
    const n = sampledIdx.length;
    const seed = randomBytes(32, this.rng);
    const dim = this.global.length;
    const noRoster = { round, sampled: n, threshold: 0, degree: 0, graph: 'none' as const };
    const privacy = this.opts.privacy({ round, sampled: n, seed, dim });
    // Budget guard before any client is asked for data.
    if (privacy.event !== null && this.opts.ledger) this.opts.ledger.checkBudget(privacy.event);
    if (n < Math.max(2, privacy.minClients)) {
      return this.aborted(noRoster, `sampled ${n} clients, fewer than the ${Math.max(2, privacy.minClients)} needed`, t0, 0, 0, 0);
    }
    if (privacy.maxClients !== undefined && n > privacy.maxClients) {
      return this.aborted(noRoster, `sampled ${n} clients, more than the ${privacy.maxClients} the encoding is sized for`, t0, 0, 0, 0);
    }
    const sa = this.opts.secagg ?? {};
    let threshold: number;
    let degree: number;
    let graph: SecAggGraph;
    if (n <= (sa.fullGraphUpTo ?? 16)) {
      graph = 'full';
      degree = n - 1;
      // Full graph: a majority threshold tolerates the configured dropout for small rosters.
      threshold = Math.max(2, Math.floor(n / 2) + 1);
    } else {
      const p = findSecAggPlusParams({ clients: n, dropout: sa.dropout ?? 0.1, corrupt: sa.corrupt ?? 0.05, adversary: sa.adversary ?? 'semi-honest' });
      ({ degree, threshold, graph } = p);
    }
    // With the full graph the Shamir threshold is also the global minimum of
    // survivors, so it can carry I6 itself. A SecAgg+ threshold is local to a
    // neighbourhood (t <= k + 1) and cannot: I6 is then enforced below,
    // before aggregation, from the survivor set U3.
    if (graph === 'full') threshold = Math.min(n, Math.max(threshold, privacy.minClients));
    const base = { round, sampled: n, threshold, degree, graph };
    if (threshold > n) return this.aborted(base, `threshold ${threshold} exceeds the ${n} sampled clients`, t0, 0, 0, 0);

    // Injected dropouts (simulation): a dropped client leaves at a random protocol stage.
    const dropouts: Required<Pick<DropoutSchedule, 'beforeShareKeys' | 'beforeMaskedInput' | 'beforeUnmasking'>> = { beforeShareKeys: [], beforeMaskedInput: [], beforeUnmasking: [] };
    const sendsInput: boolean[] = [];
    for (let id = 1; id <= n; id++) {
      let sends = true;
      if (randomUnit(this.rng) < (this.opts.dropoutRate ?? 0)) {
        const stage = randomBelow(3, this.rng);
        if (stage === 0) dropouts.beforeShareKeys.push(id);
        else if (stage === 1) dropouts.beforeMaskedInput.push(id);
        else dropouts.beforeUnmasking.push(id);
        sends = stage === 2;
      }
      sendsInput.push(sends);
    }

    // Local training and encoding on every client that will send a masked input.
    let trainMs = 0;
    let encodeMs = 0;
    let lossSum = 0;
    let trained = 0;
    const inputs: Uint32Array[] = [];
    for (let k = 0; k < n; k++) {
      const client = this.clients[sampledIdx[k]!]!;
      if (!sendsInput[k]) {
        inputs.push(new Uint32Array(privacy.codec.length));
        continue;
      }
      const update = await client.localUpdate(this.global);
      trainMs += update.trainMs;
      lossSum += update.loss;
      trained++;
      const te = performance.now();
      inputs.push(client.privatize(update.delta, privacy.codec));
      encodeMs += performance.now() - te;
    }

    // I6: the server refuses to unmask unless at least minClients masked inputs
    // (the t the noise is calibrated to) are in: U3 = senders of masked inputs,
    // known to the server at the end of MaskedInputCollection. In this
    // simulation the dropout schedule determines U3 in advance.
    const u3 = survivorsOf(n, dropouts).length;
    if (u3 < privacy.minClients) {
      return this.aborted(base, `only ${u3} masked inputs, fewer than minClients t = ${privacy.minClients} the noise is calibrated to (I6)`, t0, trainMs, encodeMs, 0);
    }
    const ta = performance.now();
    let result;
    try {
      result = await this.opts.aggregator.aggregate({ inputs, bits: privacy.codec.bits, threshold, degree, graph, round, seed, dropouts, rng: this.rng });
    } catch (err) {
      // Below threshold (or any protocol abort): nothing learned, nothing spent (I2).
      if (err instanceof ProtocolAborted) return this.aborted(base, `${err.code}: ${err.message}`, t0, trainMs, encodeMs + performance.now() - ta, 0);
      throw err;
    }
    const survived = result.survivors.length;
    const td = performance.now();
    const mean = privacy.codec.decode(result.sum, privacy.denominator ?? survived);
    const decodeMs = performance.now() - td;
    const aggMs = td - ta;
    this.global = this.strategy.apply(this.global, mean.length === dim ? mean : mean.subarray(0, dim));
    setFlatWeights(this.model, this.global);
    this.completed++;

    const accuracy = this.opts.evaluate ? this.opts.evaluate(this.model) : NaN;
    if (privacy.event !== null && privacy.params !== null) {
      if (this.opts.ledger) {
        const meta: Record<string, JsonValue> = { sampled: n, threshold, degree, graph };
        if (Number.isFinite(accuracy)) meta.accuracy = accuracy;
        // The participant commitment: the clients whose inputs are in the sum (roster ids are 1-based).
        const identity = this.opts.clientIdentity ?? simulatedIdentity;
        const participants = result.survivors.map((id) => identity(sampledIdx[id - 1]!));
        const appended = await this.opts.ledger.appendRound({ event: privacy.event, params: { ...privacy.params, survivors: survived }, meta, participants });
        this.epsilonSpent = appended.epsilon;
        this.guarantee = this.guarantee === 'model-observers' ? 'model-observers' : guaranteeOf(privacy.event);
        this.coordinatorSpent = this.opts.ledger.againstCoordinator({ population: this.clients.length });
      } else {
        // Epsilon is the ledger's to state: without one it is unknown here, not zero.
        this.epsilonSpent = NaN;
      }
    }
    return Object.freeze({
      ...base, survived, aborted: false, accuracy, epsilon: this.epsilonSpent, guarantee: this.guarantee, againstCoordinator: this.coordinatorSpent, bytes: result.bytes,
      seconds: (performance.now() - t0) / 1000, trainSeconds: trainMs / 1000,
      privacySeconds: (encodeMs + aggMs + decodeMs) / 1000, encodeSeconds: encodeMs / 1000, aggregateSeconds: aggMs / 1000, meanLoss: trained ? lossSum / trained : NaN,
    });
  }

  /** Run `rounds` rounds (stops early, without throwing, when the budget guard refuses a round). */
  async run(opts: { rounds: number; onRound?: (r: RoundReport) => void }): Promise<{ rounds: RoundReport[]; stoppedBy?: string }> {
    aint('rounds', opts.rounds, 1);
    const out: RoundReport[] = [];
    for (let r = 0; r < opts.rounds; r++) {
      let report: RoundReport;
      try {
        report = await this.runRound();
      } catch (err) {
        if (err instanceof BudgetExceeded) return { rounds: out, stoppedBy: err.message };
        throw err;
      }
      out.push(report);
      opts.onRound?.(report);
    }
    return { rounds: out };
  }
}

const identityEncoder = new TextEncoder();

/** Default identity of a simulated client in the participant commitments. */
function simulatedIdentity(index: number): Uint8Array {
  return identityEncoder.encode(`fedveil-simulated-client/${index}`);
}
