/**
 * The federated server: one orchestrator for the simulation and for
 * deployment. It holds the global model, the server strategy, the privacy
 * plan, the budget guard and the ledger, client selection, evaluation and
 * checkpoints, and runs secure aggregation through the round coordinator
 * (round-coordinator.ts) over any server transport: the in-memory transport
 * with in-process clients (the simulation, simulation.ts) or WebSocket
 * (`fedveil serve`). Clients run the client app (client-app.ts) under a
 * participant (participant.ts) in either case.
 *
 * A training round:
 *   selection from the pool of ready clients (every ready client, or
 *   Poisson sampling at rate q: each independently with probability q)
 *   -> SecAgg parameters for the roster -> the round's DP plan, calibrated
 *   to the honest minimum the clients check (minSurvivors - g on the full
 *   graph, t - g on a SecAgg+ graph) -> budget guard (before any client is
 *   asked for data) -> clients verify the round against their policy, train
 *   and send their masked, noised integers -> the ledger line is written
 *   BEFORE anything is unmasked (write-ahead) -> the sum is decoded into the
 *   average update -> strategy step -> evaluation -> checkpoint.
 *
 * A federated-evaluation round (every `federatedEvaluation.every` training
 * rounds): every ready client evaluates the global model on its own
 * held-out data and the two counts (correct, examples) are summed by
 * secure aggregation; only clients whose policy allows evaluation rounds
 * take part (the counts carry no DP noise).
 *
 * Checkpoints: after every completed round, the global model (tfjs
 * layers format), the strategy state and the round counters are written
 * atomically into one directory; `resume` continues from it, checked
 * against the ledger. Each ledger line records the hash of the model the
 * round trained from (`meta.modelIn`, the model hash the clients verified in
 * the round commitment): the line is written before the sum exists, so the
 * model a round produced is the next line's `modelIn` and the checkpoint's
 * `modelHash`.
 */
import type * as tf from '@tensorflow/tfjs';
import { InvalidArgument } from '../errors.js';
import { randomBytes, randomUnit, systemRandom, type RandomSource } from '../crypto/random.js';
import { sha256 } from '../crypto/hash.js';
import { bytesToHex } from '../util/hex.js';
import { aint, anumber } from '../util/assert.js';
import type { ServerTransport } from '../transport/channel.js';
import type { RoundTask } from '../transport/wire.js';
import type { DistributedDpPlan, DistributedMechanism } from '../dp/plan.js';
import type { PrivacyLedger } from '../dp/ledger.js';
import type { JsonValue } from '../dp/ledger-format.js';
import { guaranteeOf, type Guarantee } from '../dp/events.js';
import type { CoordinatorEpsilon } from '../dp/participants.js';
import { RoundCoordinator, type CoordinatorEvent, type RoundCoordinatorOptions, type RoundRecord, type Enrolment } from './round-coordinator.js';
import type { Protocol } from './protocol.js';
import { dpCodec, trainingCodec } from './training-codec.js';
import { fedAvg, type Strategy, type StrategyState } from './strategy.js';
import { flattenWeights, setFlatWeights } from './weights.js';
import { modelSignature } from './client-app.js';

/** Distributed DP of the training rounds. */
export interface ServerPrivacy {
  /** Central noise multiplier z (calibrate it from a target epsilon with the dp layer). */
  readonly noiseMultiplier: number;
  readonly clipNorm: number;
  readonly mechanism?: DistributedMechanism;
  /** Modulus bits of the private sums (default 20). */
  readonly bits?: number;
}

/** How clients are chosen for a training round. */
export type Selection =
  /** Every ready client (up to maxClients). No sampling amplification. */
  | { readonly kind: 'all-ready' }
  /** Poisson sampling of the pool of ready clients at rate q, by the coordinator. */
  | { readonly kind: 'poisson'; readonly rate: number };

export interface FederatedServerOptions {
  transport: ServerTransport;
  enrolment: Enrolment;
  /** Secure aggregation (default: the SecAgg / SecAgg+ binding). */
  protocol?: Protocol;
  /** The global model; its weights are read at start (or from the checkpoint) and written after each round. */
  model: tf.LayersModel;
  strategy?: Strategy;
  /** Training rounds to attempt (skipped and aborted ones count). */
  rounds: number;
  selection?: Selection;
  /** Ready clients to wait for before a roster is selected (default minClients). */
  population?: number;
  /** Smallest roster (default 2). */
  minClients?: number;
  maxClients?: number;
  /** Distributed DP (null or absent: non-private rounds, which only clients whose policy allows them accept). */
  privacy?: ServerPrivacy | null;
  /** Non-private rounds: modulus bits (default 24) and the per-coordinate update range guard (default 4). */
  nonPrivate?: { bits?: number; range?: number };
  /** Dropout fraction the SecAgg parameters and the survivor minimum tolerate (default 0.1). */
  dropout?: number;
  /** SecAgg server model (default 'active'). */
  mode?: 'semi-honest' | 'active';
  /** Colluding clients the noise calibration and thresholds tolerate (default 1 in active mode, 0 otherwise). */
  colluders?: number;
  /** Appends one line per private round before it is unmasked; its guard refuses over-budget rounds. */
  ledger?: PrivacyLedger;
  /** Server-side evaluation after each training round (e.g. accuracy on a held-out set); undefined or NaN: none. */
  evaluate?: (model: tf.LayersModel, round: number) => number | undefined | Promise<number | undefined>;
  /** A federated-evaluation round after every `every` completed training rounds (and after the last). */
  federatedEvaluation?: { every: number; maxExamples?: number };
  /** Checkpoint directory (written after every completed round), and whether to resume from it. */
  checkpoint?: { dir: string; resume?: boolean };
  /**
   * Adaptive clipping (Andrew et al. 2021; dp/adaptive-clip.ts): the clip
   * norm follows the target quantile of the clients' update norms, from a
   * noised count summed with the updates; the ledger accounts for both.
   * Starts at privacy.clipNorm. Not with Poisson selection.
   */
  adaptiveClipping?: { targetQuantile?: number; learningRate?: number; countStddev?: number; minClipNorm?: number; maxClipNorm?: number };
  /** Built-in model spec to announce (clients without an app of their own build it). */
  spec?: string;
  /** Everything else the round coordinator takes (limits, deadlines, authorities, name). */
  coordinator?: Partial<Omit<RoundCoordinatorOptions, 'transport' | 'protocol' | 'enrolment' | 'task' | 'onRound' | 'beforeUnmask' | 'select' | 'population' | 'minSurvivors' | 'dim' | 'bits' | 'rounds'>>;
  /** Lowest first round number (a restarted server continues its ledger's numbering; after a resume, at least the checkpoint's round + 1). */
  firstRound?: number;
  rng?: RandomSource;
  onRound?: (report: RoundReport) => void;
  onEvent?: (event: CoordinatorEvent) => void;
  /** A completed training round's record (the sum, survivors, stage timings) with the accuracy after it; awaited. */
  onRecord?: (record: RoundRecord, accuracy: number) => void | Promise<void>;
  /** A ledger line was written (before the round's sum is unmasked). */
  onLedgerLine?: (info: { round: number; line: number; epsilon: number }) => void;
}

export interface RoundReport {
  readonly round: number;
  readonly kind: 'train' | 'evaluate';
  /** Clients selected for the roster (0 when skipped). */
  readonly sampled: number;
  /** Ready clients the selection drew from. */
  readonly pool: number;
  /** Clients whose input is in the sum (0 when aborted). */
  readonly survived: number;
  readonly threshold: number;
  readonly degree: number;
  readonly graph: 'full' | 'harary' | 'none';
  readonly aborted: boolean;
  readonly reason?: string;
  /** Server-side evaluation after the round (NaN without). */
  readonly accuracy: number;
  /** Federated evaluation: correct / examples over the clients in the sum (evaluation rounds). */
  readonly federatedAccuracy?: number;
  readonly examples?: number;
  /** The ledger's epsilon so far (0 when non-private, NaN for a private run without a ledger). */
  readonly epsilon: number;
  /** Whom `epsilon` protects against ('model-observers' when amplified by sampling). */
  readonly guarantee: Guarantee | null;
  /** Against the coordinator (no amplification), for the client with the most participations and the median one. */
  readonly againstCoordinator: CoordinatorEpsilon | null;
  /** SHA-256 (hex) of the global model after the round. */
  readonly modelHash: string;
  /** The clip norm of this round's plan (private training rounds). */
  readonly clipNorm?: number;
  /** Adaptive clipping: the noised fraction of the summed clients whose update norm was <= clipNorm. */
  readonly clippedFraction?: number;
  readonly seconds: number;
  /** In-process runs: bytes through the channels during the round (both directions, all clients). */
  readonly bytes?: number;
  /** In-process runs: local training time of the round's clients, summed. */
  readonly trainSeconds?: number;
  /** In-process runs: mean local training loss of the round's clients. */
  readonly meanLoss?: number;
}

interface RoundState {
  kind: 'train' | 'evaluate';
  plan?: DistributedDpPlan;
  n: number;
  pool: number;
  graph: 'full' | 'harary';
  degree: number;
  threshold: number;
  modelIn: string;
  startedAt: number;
  range: number;
  bits: number;
  dim: number;
  counted?: boolean;
  clipNorm?: number;
  clippedFraction?: number;
  federated?: { federatedAccuracy: number; examples: number };
}

/** What a checkpoint directory's state.json holds. */
export interface CheckpointState {
  readonly version: 1;
  /** The last round number used (training, evaluation or skipped). */
  readonly round: number;
  readonly trainingRounds: number;
  readonly attempts: number;
  readonly modelHash: string;
  readonly ledgerRounds: number;
  readonly strategy: StrategyState;
  readonly signature: string;
  /** Adaptive clipping's tracker state (dp/adaptive-clip.ts), when it is on. */
  readonly clip?: unknown;
}

function weightsHash(w: Float32Array): string {
  return bytesToHex(sha256(new Uint8Array(w.buffer, w.byteOffset, w.byteLength)));
}

export class FederatedServer {
  readonly model: tf.LayersModel;
  readonly strategy: Strategy;
  readonly signature: string;
  private readonly opts: FederatedServerOptions;
  private readonly rng: RandomSource;
  private global: Float32Array;
  private coordinator: RoundCoordinator | undefined;
  private readonly rounds = new Map<number, RoundState>();
  private readonly reports: RoundReport[] = [];
  private attempts = 0;
  private trainingRounds = 0;
  private sinceEvaluation = 0;
  private lastRound = 0;
  private nextKind: 'train' | 'evaluate' = 'train';
  private lastAccuracy = NaN;
  private stoppedBy: string | undefined;
  private resumedFrom: CheckpointState | undefined;

  constructor(opts: FederatedServerOptions) {
    if (!opts || typeof opts !== 'object') throw new InvalidArgument('FederatedServer: options required');
    if (opts.rounds !== Infinity) aint('rounds', opts.rounds, 1);
    if (opts.selection?.kind === 'poisson') {
      anumber('selection.rate', opts.selection.rate, 0, 1);
      if (!(opts.selection.rate > 0)) throw new InvalidArgument('selection.rate must be > 0');
    }
    if (opts.privacy) {
      anumber('privacy.noiseMultiplier', opts.privacy.noiseMultiplier, 0);
      anumber('privacy.clipNorm', opts.privacy.clipNorm, 0);
      if (!opts.ledger) throw new InvalidArgument('FederatedServer: a private run needs a ledger (no sum is released without its recorded cost)');
    }
    if (opts.federatedEvaluation) aint('federatedEvaluation.every', opts.federatedEvaluation.every, 1);
    if (opts.adaptiveClipping && !opts.privacy) throw new InvalidArgument('FederatedServer: adaptiveClipping needs privacy (it tracks the DP clip norm)');
    if (opts.adaptiveClipping && opts.selection?.kind === 'poisson') throw new InvalidArgument('FederatedServer: adaptiveClipping with Poisson selection has no sound accounting here (the sampled composition of the update and the count); use all-ready selection');
    this.opts = opts;
    this.model = opts.model;
    this.strategy = opts.strategy ?? fedAvg();
    this.rng = opts.rng ?? systemRandom;
    this.global = flattenWeights(opts.model);
    this.signature = modelSignature(opts.model);
  }

  /** Current global weights (a copy). */
  weights(): Float32Array {
    return Float32Array.from(this.global);
  }

  /** The coordinator's status (for status pages), once started. */
  status(): ReturnType<RoundCoordinator['status']> | undefined {
    return this.coordinator?.status();
  }

  /** The checkpoint this run resumed from, if any. */
  get resumed(): CheckpointState | undefined {
    return this.resumedFrom;
  }

  private get colluders(): number {
    return this.opts.colluders ?? ((this.opts.mode ?? 'active') === 'active' ? 1 : 0);
  }

  /** Load the checkpoint (resume), start listening. Resolves once the transport listens. */
  async start(): Promise<void> {
    if (this.opts.checkpoint?.resume) await this.resume();
    const dropout = this.opts.dropout ?? 0.1;
    const minClients = this.opts.minClients ?? 2;
    const coordinatorOpts: RoundCoordinatorOptions = {
      ...(this.opts.coordinator ?? {}),
      transport: this.opts.transport,
      protocol: this.opts.protocol ?? (await import('./secagg-protocol.js')).secAggProtocol,
      enrolment: this.opts.enrolment,
      dim: this.global.length,
      bits: 16,
      minClients,
      ...(this.opts.maxClients !== undefined ? { maxClients: this.opts.maxClients } : {}),
      population: Math.max(minClients, this.opts.population ?? minClients),
      mode: this.opts.mode ?? 'active',
      colluders: this.colluders,
      dropout,
      firstRound: Math.max(this.lastRound + 1, this.opts.firstRound ?? 0),
      select: (pool) => this.select(pool),
      more: () => this.attempts < this.opts.rounds || this.nextKind === 'evaluate',
      minSurvivors: (n) => (this.nextKind === 'train' && this.opts.privacy ? Math.max(2, Math.ceil(n * (1 - dropout))) : 0),
      ...(this.opts.privacy ? { planHash: (plan: Record<string, unknown>) => this.planHashOf(plan) } : {}),
      task: (round, n, params) => this.task(round, n, params),
      beforeUnmask: (info) => this.beforeUnmask(info),
      onRound: (record) => this.onRoundRecord(record),
      onEvent: (ev) => this.onEvent(ev),
    };
    this.planHashImpl = this.opts.privacy ? (await import('../dp/plan-verify.js')).planHash : undefined;
    this.planImpl = this.opts.privacy ? (await import('../dp/plan.js')).planDistributedDp : undefined;
    this.roundEventImpl = this.opts.privacy ? (await import('../dp/plan-verify.js')).roundEvent : undefined;
    if (this.opts.adaptiveClipping) {
      this.clipImpl = await import('../dp/adaptive-clip.js');
      const a = this.opts.adaptiveClipping;
      const restored = this.resumedFrom?.clip;
      this.clip = restored !== undefined ? this.clipImpl.parseClipTrackerState(restored) : this.clipImpl.createClipTracker({
        clipNorm: this.opts.privacy!.clipNorm, expectedClients: this.opts.population ?? minClients,
        ...(a.targetQuantile !== undefined ? { targetQuantile: a.targetQuantile } : {}), ...(a.learningRate !== undefined ? { learningRate: a.learningRate } : {}),
        ...(a.countStddev !== undefined ? { countStddev: a.countStddev } : {}), ...(a.minClipNorm !== undefined ? { minClipNorm: a.minClipNorm } : {}),
        ...(a.maxClipNorm !== undefined ? { maxClipNorm: a.maxClipNorm } : {}),
      });
    }
    this.coordinator = new RoundCoordinator(coordinatorOpts);
    await this.coordinator.start();
  }

  private planHashImpl: ((plan: DistributedDpPlan) => Uint8Array) | undefined;
  private clipImpl: typeof import('../dp/adaptive-clip.js') | undefined;
  private roundEventImpl: typeof import('../dp/plan-verify.js').roundEvent | undefined;
  private clip: import('../dp/adaptive-clip.js').ClipTrackerState | undefined;
  private planImpl: typeof import('../dp/plan.js').planDistributedDp | undefined;

  private planHashOf(plan: Record<string, unknown>): Uint8Array {
    return this.planHashImpl!(plan as unknown as DistributedDpPlan);
  }

  /** Run to the end: the planned rounds, the budget, or `stop()`. */
  async run(): Promise<{ rounds: RoundReport[]; stoppedBy?: string }> {
    if (!this.coordinator) await this.start();
    await this.coordinator!.finished;
    return { rounds: [...this.reports], ...(this.stoppedBy !== undefined ? { stoppedBy: this.stoppedBy } : {}) };
  }

  async stop(reason = 'server stopped'): Promise<void> {
    await this.coordinator?.stop(reason);
  }

  private lastPool = 0;

  private select(pool: number): readonly number[] {
    this.lastPool = pool;
    const all = Array.from({ length: pool }, (_v, i) => i);
    const sel = this.opts.selection ?? { kind: 'all-ready' as const };
    if (this.nextKind === 'evaluate' || sel.kind === 'all-ready') return all.slice(0, this.opts.maxClients ?? pool);
    return all.filter(() => randomUnit(this.rng) < sel.rate);
  }

  private task(round: number, n: number, params: { graph: 'full' | 'harary'; degree: number; threshold: number; minSurvivors: number }): { task: RoundTask; dim: number; bits: number } {
    const global = new Uint8Array(this.global.slice().buffer);
    const base = { n, pool: this.lastPool, graph: params.graph, degree: params.degree, threshold: params.threshold, modelIn: weightsHash(this.global), startedAt: performance.now() };
    const spec = this.opts.spec !== undefined ? { spec: this.opts.spec } : {};
    if (this.nextKind === 'evaluate') {
      const maxExamples = this.opts.federatedEvaluation?.maxExamples ?? 1 << 20;
      const bits = Math.min(32, Math.ceil(Math.log2(n * maxExamples + 1)) + 1);
      this.rounds.set(round, { ...base, kind: 'evaluate', range: 0, bits, dim: 2 });
      return { task: { kind: 'evaluate', model: this.signature, global, maxExamples, ...spec }, dim: 2, bits };
    }
    const p = this.opts.privacy;
    if (p) {
      const q = this.opts.selection?.kind === 'poisson' ? this.opts.selection.rate : 1;
      // I6: calibrated to the honest minimum the clients check (minSurvivors - g on the full graph, t - g on SecAgg+).
      const request = {
        clipNorm: p.clipNorm, noiseMultiplier: p.noiseMultiplier, expectedClients: n, maxClients: n,
        minClients: params.graph === 'full' ? params.minSurvivors : params.threshold, colluders: this.colluders,
        dim: this.global.length, bits: p.bits ?? 20, mechanism: p.mechanism ?? 'ddg', rotationSeed: randomBytes(32, this.rng),
        ...(q < 1 ? { samplingRate: q } : {}),
      } as const;
      const plan = this.planImpl!(this.clip ? this.clipImpl!.adaptiveRoundRequest(request, this.clip) : request, this.rng);
      // Budget guard: refuse the round before any client is asked for data (BudgetExceeded ends the run).
      this.opts.ledger!.checkBudget(this.roundEventImpl!(plan));
      const dim = plan.adaptiveClipping ? plan.adaptiveClipping.layout.vectorLength : plan.paddedDim;
      this.rounds.set(round, { ...base, kind: 'train', plan, range: 0, bits: plan.bits, dim });
      return { task: { kind: 'train', model: this.signature, global, range: 1, dp: plan as unknown as Record<string, unknown>, ...spec }, dim, bits: plan.bits };
    }
    const bits = this.opts.nonPrivate?.bits ?? 24;
    const range = this.opts.nonPrivate?.range ?? 4;
    // Fails early (InvalidArgument) when n clients' updates cannot fit the modulus.
    trainingCodec(this.global.length, n, bits, range);
    this.rounds.set(round, { ...base, kind: 'train', range, bits, dim: this.global.length });
    return { task: { kind: 'train', model: this.signature, global, range, ...spec }, dim: this.global.length, bits };
  }

  private async beforeUnmask(info: { round: number; n: number; threshold: number; survivors: number; participants: readonly Uint8Array[] }): Promise<void> {
    const st = this.rounds.get(info.round);
    if (!st || st.kind !== 'train' || !st.plan || !this.opts.ledger) return;
    const plan = st.plan;
    const sel = this.opts.selection ?? { kind: 'all-ready' as const };
    const q = sel.kind === 'poisson' ? sel.rate : 1;
    const meta: Record<string, JsonValue> = {
      coordinatorRound: info.round, modelIn: st.modelIn, roster: info.n, threshold: info.threshold, graph: st.graph,
      selection: sel.kind === 'poisson' ? `poisson-from-ready-pool q=${q}` : 'all-ready',
      pool: st.pool,
    };
    const appended = await this.opts.ledger.appendRound({
      event: this.roundEventImpl!(plan),
      params: {
        mechanism: plan.mechanism, clipNorm: plan.clipNorm, noiseMultiplier: plan.noiseMultiplier, samplingRate: q,
        expectedClients: plan.expectedClients, minClients: plan.minClients, colluders: plan.colluders, survivors: info.survivors,
        dimension: plan.dim, paddedDimension: plan.paddedDim, bits: plan.bits, scale: plan.scale,
        ...(plan.adaptiveClipping ? { countScale: plan.adaptiveClipping.countScale } : {}),
      },
      meta,
      participants: info.participants,
    });
    this.opts.onLedgerLine?.({ round: info.round, line: appended.round, epsilon: appended.epsilon });
  }

  /** A completed round, awaited by the coordinator before it opens the next one. */
  private async onRoundRecord(record: RoundRecord): Promise<void> {
    const st = this.rounds.get(record.round);
    if (!st) return;
    this.lastRound = record.round;
    if (st.kind === 'evaluate') {
      const examples = record.sum[1]!;
      st.federated = { federatedAccuracy: examples > 0 ? record.sum[0]! / examples : NaN, examples };
      this.sinceEvaluation = 0;
      return;
    }
    const codec = st.plan ? dpCodec(st.plan) : trainingCodec(st.dim, st.n, st.bits, st.range);
    const avg = codec.decode(record.sum, record.survivors.length);
    const dim = this.global.length;
    this.global = this.strategy.apply(this.global, avg.length === dim ? avg : avg.subarray(0, dim));
    setFlatWeights(this.model, this.global);
    this.trainingRounds++;
    this.attempts++;
    this.sinceEvaluation++;
    st.counted = true;
    if (st.plan) st.clipNorm = st.plan.clipNorm;
    if (this.clip && st.plan?.adaptiveClipping) {
      // The noised clipped fraction moves C for the next round (post-processing of the released count).
      const est = this.clipImpl!.decodeClipCount(record.sum, st.plan, record.survivors.length, record.survivors.length);
      st.clippedFraction = est.belowFraction;
      this.clip = this.clipImpl!.updateClipTracker(this.clip, est.belowFraction);
    }
    const acc = this.opts.evaluate ? await this.opts.evaluate(this.model, record.round) : undefined;
    this.lastAccuracy = typeof acc === 'number' ? acc : NaN;
    await this.saveCheckpoint();
    await this.opts.onRecord?.(record, this.lastAccuracy);
  }

  private onEvent(ev: CoordinatorEvent): void {
    this.opts.onEvent?.(ev);
    if (ev.type === 'round-skipped') {
      this.lastRound = ev.round;
      const kind = this.nextKind;
      if (kind === 'train') this.attempts++;
      this.report({
        round: ev.round, kind, sampled: ev.selected, pool: ev.pool, survived: 0, threshold: 0, degree: 0, graph: 'none', aborted: true, reason: ev.reason,
        accuracy: NaN, seconds: 0,
      });
      this.afterRound();
    } else if (ev.type === 'round-end') {
      const record = ev.record;
      const st = this.rounds.get(record.round);
      this.rounds.delete(record.round);
      this.lastRound = record.round;
      const kind = st?.kind ?? 'train';
      if (kind === 'train' && !st?.counted) this.attempts++;
      this.report({
        round: record.round, kind, sampled: record.n, pool: st?.pool ?? 0, survived: record.ok ? record.survivors.length : 0, threshold: record.threshold,
        degree: st?.degree ?? 0, graph: st?.graph ?? 'none', aborted: !record.ok, ...(record.ok ? {} : { reason: record.reason }),
        accuracy: kind === 'train' && record.ok ? this.lastAccuracy : NaN, ...(st?.federated ?? {}), seconds: record.durationMs / 1000,
        ...(st?.clipNorm !== undefined ? { clipNorm: st.clipNorm } : {}), ...(st?.clippedFraction !== undefined ? { clippedFraction: st.clippedFraction } : {}),
      });
      this.afterRound();
    } else if (ev.type === 'finished') {
      if (ev.reason.startsWith('privacy budget exhausted')) this.stoppedBy = ev.reason;
    }
  }

  /** Decide the next round's kind (the coordinator asks `more` before it opens one). */
  private afterRound(): void {
    const fe = this.opts.federatedEvaluation;
    const done = this.attempts >= this.opts.rounds;
    if (fe && this.nextKind === 'train' && this.sinceEvaluation > 0 && (this.sinceEvaluation >= fe.every || done)) {
      this.nextKind = 'evaluate';
      return;
    }
    this.nextKind = 'train';
  }

  private report(r: Omit<RoundReport, 'epsilon' | 'guarantee' | 'againstCoordinator' | 'modelHash'>): void {
    const ledger = this.opts.ledger;
    const privateRun = Boolean(this.opts.privacy);
    const full: RoundReport = Object.freeze({
      ...r,
      epsilon: !privateRun ? 0 : ledger ? ledger.epsilon : NaN,
      guarantee: privateRun && ledger && ledger.rounds > 0 ? ledger.guarantee : null,
      againstCoordinator: privateRun && ledger && ledger.rounds > 0 ? ledger.againstCoordinator(this.opts.population !== undefined ? { population: this.opts.population } : {}) : null,
      modelHash: weightsHash(this.global),
    });
    this.reports.push(full);
    this.opts.onRound?.(full);
  }

  private async saveCheckpoint(): Promise<void> {
    const dir = this.opts.checkpoint?.dir;
    if (!dir) return;
    const { modelFiles, writeDirectoryAtomically } = await import('./model-files.js');
    const files = await modelFiles(this.model);
    const state: CheckpointState = {
      version: 1, round: this.lastRound, trainingRounds: this.trainingRounds, attempts: this.attempts, modelHash: weightsHash(this.global),
      ledgerRounds: this.opts.ledger?.rounds ?? 0, strategy: this.strategy.state(), signature: this.signature,
      ...(this.clip ? { clip: this.clip } : {}),
    };
    await writeDirectoryAtomically(dir, { ...files, 'state.json': JSON.stringify(state) });
  }

  private async resume(): Promise<void> {
    const dir = this.opts.checkpoint!.dir;
    const { loadModelFiles, readableDirectory } = await import('./model-files.js');
    const at = await readableDirectory(dir);
    if (!at) return; // nothing to resume: a fresh start
    const fs = await import('node:fs/promises');
    const path = await import('node:path');
    let state: CheckpointState;
    try {
      state = JSON.parse(await fs.readFile(path.join(at, 'state.json'), 'utf8')) as CheckpointState;
    } catch (err) {
      throw new InvalidArgument(`checkpoint ${at}: unreadable state.json (${err instanceof Error ? err.message : String(err)})`);
    }
    if (state.version !== 1) throw new InvalidArgument(`checkpoint ${at}: unknown version ${String(state.version)}`);
    if (state.signature !== this.signature) throw new InvalidArgument(`checkpoint ${at}: it holds model ${state.signature}, this server runs ${this.signature}`);
    const artifacts = await loadModelFiles(at);
    const weights = new Float32Array(artifacts.weightData as ArrayBuffer);
    if (weights.length !== this.global.length) throw new InvalidArgument(`checkpoint ${at}: ${weights.length} weights, the model has ${this.global.length}`);
    if (weightsHash(weights) !== state.modelHash) throw new InvalidArgument(`checkpoint ${at}: the weights do not match the recorded model hash`);
    const ledgerRounds = this.opts.ledger?.rounds ?? 0;
    if (this.opts.ledger && ledgerRounds < state.ledgerRounds) {
      throw new InvalidArgument(`checkpoint ${at}: it was written after ledger line ${state.ledgerRounds}, but the ledger has ${ledgerRounds}; refusing to resume with a ledger that lost rounds`);
    }
    this.strategy.restore(state.strategy);
    this.global = weights;
    setFlatWeights(this.model, this.global);
    this.lastRound = state.round;
    this.trainingRounds = state.trainingRounds;
    this.attempts = state.attempts;
    this.resumedFrom = state;
  }

  /** Training rounds completed so far (including those before a resume). */
  get completedRounds(): number {
    return this.trainingRounds;
  }
}

