/**
 * The coordinator: admits authenticated clients over any {@link ServerTransport},
 * opens secure-aggregation rounds (Bonawitz et al. CCS'17; SecAgg+ Bell et
 * al. CCS'20), relays the protocol frames between the SecAgg server state
 * machine and the participants, and applies per-stage deadlines.
 *
 * A round: once at least `minClients` authenticated clients are waiting and
 * ready (each sends one `ready` after `welcome` and after each `result`; a
 * client that never does is never on a roster, and is closed at the
 * readiness deadline), the coordinator takes them all (up to `maxClients`)
 * as the roster, numbers them 1..n, draws a fresh public round seed, and
 * sends each its id and the public configuration. A `ready` also grants
 * the client its frame budget for the round: `framesPerRound` envelopes,
 * counted before any signature is checked (FRAME_BUDGET beyond it; an
 * honest client sends one per stage). Every frame a client sends is
 * verified against the
 * identity authenticated on its connection (session.ts) and handed to the
 * server state machine as coming from that identity's roster id - never
 * from an id found inside the payload. A stage ends when every live roster
 * member has spoken in it (the state machine advances by itself), or when
 * its deadline passes; then `deadline()` turns the silent clients into
 * dropouts. A client whose connection closes is a dropout from then on, and
 * when every remaining live member has already spoken the stage is closed
 * at once rather than waiting for the timer.
 *
 * Assumptions: the server state machine never throws on a bad frame (it
 * records the sender as dropped, I3); calls into it are serialised here, so
 * its async `handle` / `deadline` never interleave.
 */
import { BudgetExceeded, FedveilError, ProtocolAborted } from '../errors.js';
import { aint } from '../util/assert.js';
import { randomBytes, systemRandom, type RandomSource } from '../crypto/random.js';
import { sha256 } from '../crypto/hash.js';
import { checkCertificate, decodeCertificate, type RevokedSerials } from '../crypto/certificate.js';
import { RosterCommitment } from '../secagg/roster.js';
import { neighbourGraph } from '../secagg/graph.js';
import type { SecAggConfig, SecAggStage, Outgoing } from '../secagg/types.js';
import { CloseCode, type Channel, type ServerTransport } from '../transport/channel.js';
import { channelBinding, hex, verifyAuth, verifyEnvelope } from '../transport/session.js';
import { decodeClientMessage, encodeMessage, WIRE_VERSION, type RoundTask, type ServerMessage } from '../transport/wire.js';
import type { Protocol, RoundServer } from './protocol.js';

/** Which identities may join. */
export interface Enrolment {
  /** Public keys (hex) admitted without a token. */
  readonly enrolled: Set<string>;
  /** Shared enrolment token: presenting it registers the client's key. */
  readonly token?: string;
  /** Called when a key is registered with the token (e.g. to persist it). */
  readonly onEnrol?: (publicKeyHex: string) => void;
  /**
   * Most identities the token may register during this coordinator's life
   * (default 1000); beyond it a new key presenting the token is refused
   * (ENROLMENT_LIMIT). Keys already enrolled are not affected.
   */
  readonly maxTokenEnrolments?: number;
}

/** A round's task with its own vector shape (dimension d and modulus bits b, instead of the coordinator's defaults). */
export interface RoundSpec {
  readonly task: RoundTask;
  readonly dim: number;
  readonly bits: number;
}

/** What the coordinator reports about a finished round. */
export interface RoundRecord {
  readonly round: number;
  readonly ok: boolean;
  /** Roster size n and threshold t. */
  readonly n: number;
  readonly threshold: number;
  readonly dim: number;
  readonly bits: number;
  /** Public keys (hex) of the survivors whose inputs are in `sum`. */
  readonly survivors: string[];
  /** Public keys (hex) of the roster, index id-1. */
  readonly roster: string[];
  /** The sum mod 2^bits of the survivors' inputs (empty when aborted). */
  readonly sum: Uint32Array;
  readonly reason: string;
  readonly startedAt: number;
  readonly durationMs: number;
  /** Time each stage took (ms), in order. */
  readonly stageMs: Array<{ stage: SecAggStage; ms: number; viaDeadline: boolean }>;
  /** Per stage: each responding client's latency (ms from the stage opening to its frame's arrival). */
  readonly responseMs: Partial<Record<SecAggStage, number[]>>;
}

export type CoordinatorEvent =
  | { type: 'connected'; remote: string }
  | { type: 'authenticated'; identity: string; remote: string }
  /** The client said `ready`: it may be put on the next roster. */
  | { type: 'ready'; identity: string }
  | { type: 'rejected'; remote: string; code: string; message: string }
  | { type: 'disconnected'; remote: string; identity?: string; code: number; reason: string }
  | { type: 'round-start'; round: number; n: number; threshold: number }
  /** Selection left too few (or too many) clients: the round number is used up, nothing was sent. */
  | { type: 'round-skipped'; round: number; pool: number; selected: number; reason: string }
  | { type: 'stage'; round: number; stage: SecAggStage; viaDeadline: boolean }
  | { type: 'round-end'; record: RoundRecord }
  | { type: 'finished'; reason: string };

export interface RoundCoordinatorOptions {
  transport: ServerTransport;
  protocol: Protocol;
  enrolment: Enrolment;
  /** Vector length d and modulus bits b of every round. */
  dim: number;
  bits: number;
  /** Clients needed to open a round (default 2). */
  minClients?: number;
  /** Largest roster (default 10000). */
  maxClients?: number;
  /** Rounds to run; then clients are told `bye` (default: unbounded). */
  rounds?: number;
  /** Per-stage deadline in ms (default 30000). */
  stageTimeoutMs?: number;
  /** Time a new connection has to authenticate (default 10000 ms). */
  authTimeoutMs?: number;
  /**
   * Envelopes a client may send per round, counted from its `ready` to the
   * next (default 10: two per SecAgg stage; an honest client sends one per
   * stage, at most five). One more closes it with FRAME_BUDGET.
   */
  framesPerRound?: number;
  /**
   * Time a client has to send `ready` after `welcome` and after each
   * `result` (default 300000 ms; 0 = no deadline). A client that has not
   * said it is never put on a roster, and is closed (NOT_READY) at the
   * deadline.
   */
  readyTimeoutMs?: number;
  /**
   * After a round, how long the next round waits for the `ready` of the
   * members of the round just ended (default 5000 ms). It opens as soon as
   * all of them said it (or left), so a cohort stays together instead of
   * the first `minClients` to answer forming a round of their own; a member
   * still silent after this wait is left for a later round.
   */
  readyWaitMs?: number;
  /**
   * SecAgg server model (default semi-honest). `active`: the clients'
   * transport identities double as the SecAgg signing keys (Bonawitz §4:
   * signed advertisements and the ConsistencyCheck round).
   */
  mode?: 'semi-honest' | 'active';
  /**
   * Require every client to present a valid, unrevoked certificate from one
   * of these enrolment authorities at authentication (NOT_CERTIFIED
   * otherwise). Clients whose policy requires certified rosters refuse
   * rounds that contain an uncertified member, so a deployment sets this.
   */
  authorities?: readonly Uint8Array[];
  /** Revoked certificate serials per authority (hex key -> serials). */
  revoked?: RevokedSerials;
  /** Colluding clients the clients' policies tolerate: active-mode thresholds satisfy 2t > k + 1 + g (default 0). */
  colluders?: number;
  /** Hash of a round's DP plan for the round commitment (the dp layer's planHash); clients compute the same. */
  planHash?: (plan: Record<string, unknown>) => Uint8Array;
  /**
   * Awaited before any unmasking request goes out, with the number of
   * masked inputs the sum will hold and the public keys of their senders
   * (`participants`, one per survivor): record the round's privacy cost
   * here (write-ahead), so no sum is released before its cost is durable. A
   * throw aborts the round with nothing unmasked.
   */
  beforeUnmask?: (info: { round: number; n: number; threshold: number; survivors: number; participants: readonly Uint8Array[] }) => Promise<void>;
  /** Dropout fraction the SecAgg parameters must tolerate (default 0.1). */
  dropout?: number;
  /** Largest SecAgg frame accepted (bytes). */
  maxFrameBytes?: number;
  /** First round number (a restarted coordinator continues its ledger). */
  firstRound?: number;
  name?: string;
  rng?: RandomSource;
  /**
   * Fewest masked inputs a round of roster size n may unmask (distributed DP:
   * the number of clients the noise is calibrated for, I6), raised to at
   * least the threshold. It is part of the round configuration: the server
   * aborts below it and every client refuses to unmask below it.
   */
  minSurvivors?: (n: number) => number;
  /**
   * What participants contribute in round `round` with roster size `n` and
   * the chosen SecAgg parameters (default: their own vectors). A DP plan
   * must be calibrated to the honest minimum the clients can check:
   * minSurvivors - g on the full graph, threshold - g on a SecAgg+ graph.
   */
  task?: (round: number, n: number, params: { graph: 'full' | 'harary'; degree: number; threshold: number; minSurvivors: number }) => RoundTask | RoundSpec;
  /**
   * Ready clients to wait for before a roster is formed (default
   * minClients). With `select`, this is the pool sampled from.
   */
  population?: number;
  /**
   * Client selection: given the number of ready clients (the pool), the
   * 0-based indices into it that form the next roster (default: all, up to
   * maxClients). A selection smaller than minClients or larger than
   * maxClients consumes the round number without opening it (event
   * `round-skipped`); nothing is sent and nothing is spent.
   */
  select?: (pool: number) => readonly number[];
  /** Asked before each round opens and after each round ends: false finishes the run (clients hear `bye`). */
  more?: () => boolean;
  /** Called (and awaited) when a round ends, before the next opens: ledger, results. */
  onRound?: (record: RoundRecord) => void | Promise<void>;
  onEvent?: (event: CoordinatorEvent) => void;
}

interface Session {
  readonly channel: Channel;
  readonly nonce: Uint8Array;
  state: 'handshake' | 'ready' | 'closed';
  pk?: Uint8Array;
  identity?: string;
  binding?: Uint8Array;
  lastSeq: number;
  /** SecAgg id in the current round, if on its roster. */
  index?: number;
  authTimer?: ReturnType<typeof setTimeout>;
  /** Encoded enrolment certificate presented at authentication (verified when authorities are set). */
  cert?: Uint8Array;
  /** `welcome` or `result` was sent and its one `ready` has not arrived yet. */
  readyExpected: boolean;
  /** Said `ready` since its last `result`: may be put on the next roster. */
  standing: boolean;
  readyTimer?: ReturnType<typeof setTimeout>;
  /** Envelopes allowed / received since the last `ready` (the per-round frame budget). */
  budget: number;
  envelopes: number;
}

interface ActiveRound {
  readonly round: number;
  readonly config: SecAggConfig;
  readonly server: RoundServer;
  readonly roster: Session[];
  readonly startedAt: number;
  stage: SecAggStage;
  stageStartedAt: number;
  /** Roster ids whose frame in the current stage the state machine has handled. */
  spoke: Set<number>;
  /** Roster ids whose frame in the current stage has arrived (for the response times). */
  arrived: Set<number>;
  stageMs: Array<{ stage: SecAggStage; ms: number; viaDeadline: boolean }>;
  responseMs: Partial<Record<SecAggStage, number[]>>;
  timer?: ReturnType<typeof setTimeout>;
  queue: Promise<void>;
  ended: boolean;
  /** The current stage is being closed by `deadline()` (timer or early close). */
  viaDeadline?: boolean;
  /** Masked inputs received (|U3|), once MaskedInputCollection closed. */
  masked?: number;
  /** Public keys of the senders of those masked inputs. */
  maskedKeys?: Uint8Array[];
}

/** Public status (served as GET /status). */
export interface CoordinatorStatus {
  name: string;
  state: 'waiting' | 'round' | 'finished' | 'stopped';
  round: number | null;
  stage: SecAggStage | null;
  roundsCompleted: number;
  roundsPlanned: number | null;
  clients: { connected: number; authenticated: number; inRound: number };
  minClients: number;
  dim: number;
  bits: number;
  lastRound: { round: number; ok: boolean; n: number; survivors: number; durationMs: number; reason: string } | null;
}

export class RoundCoordinator {
  private readonly opts: RoundCoordinatorOptions;
  private readonly sessions = new Set<Session>();
  private readonly byIdentity = new Map<string, Session>();
  private readonly minClients: number;
  private readonly maxClients: number;
  private readonly stageTimeoutMs: number;
  private readonly authTimeoutMs: number;
  private readonly framesPerRound: number;
  private readonly readyTimeoutMs: number;
  private readonly readyWaitMs: number;
  /** Members of the round just ended that have not said `ready` yet: the next round waits for them (up to readyWaitMs). */
  private regrouping: Set<Session> | undefined;
  private regroupTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly maxTokenEnrolments: number;
  /** Identities registered with the token so far. */
  private tokenEnrolments = 0;
  private readonly rng: RandomSource;
  /** Fresh per coordinator start: bound into every auth signature (session.ts). */
  readonly sessionId: Uint8Array;
  private active: ActiveRound | undefined;
  private nextRound: number;
  private completed = 0;
  private state: CoordinatorStatus['state'] = 'waiting';
  private last: CoordinatorStatus['lastRound'] = null;
  private finishedResolve!: () => void;
  private finishedReject!: (err: unknown) => void;
  /** Resolves when the planned rounds are done (or `stop()`), rejects on a fatal error. */
  readonly finished: Promise<void>;
  private opening = false;

  constructor(opts: RoundCoordinatorOptions) {
    aint('Coordinator: dim', opts.dim, 1);
    aint('Coordinator: bits', opts.bits, 1, 32);
    this.opts = opts;
    this.minClients = opts.minClients ?? 2;
    this.maxClients = opts.maxClients ?? 10000;
    aint('Coordinator: minClients', this.minClients, 2);
    aint('Coordinator: maxClients', this.maxClients, this.minClients);
    if (opts.rounds !== undefined) aint('Coordinator: rounds', opts.rounds, 0);
    this.stageTimeoutMs = opts.stageTimeoutMs ?? 30000;
    this.authTimeoutMs = opts.authTimeoutMs ?? 10000;
    this.framesPerRound = opts.framesPerRound ?? 10;
    this.readyTimeoutMs = opts.readyTimeoutMs ?? 300000;
    this.readyWaitMs = opts.readyWaitMs ?? 5000;
    aint('Coordinator: readyWaitMs', this.readyWaitMs, 0);
    this.maxTokenEnrolments = opts.enrolment.maxTokenEnrolments ?? 1000;
    aint('Coordinator: framesPerRound', this.framesPerRound, 1);
    aint('Coordinator: readyTimeoutMs', this.readyTimeoutMs, 0);
    aint('Coordinator: enrolment.maxTokenEnrolments', this.maxTokenEnrolments, 0);
    this.rng = opts.rng ?? systemRandom;
    this.sessionId = randomBytes(32, this.rng);
    this.nextRound = opts.firstRound ?? 1;
    this.finished = new Promise((resolve, reject) => {
      this.finishedResolve = resolve;
      this.finishedReject = reject;
    });
    // A caller that only awaits some other promise must not see an unhandled rejection.
    this.finished.catch(() => undefined);
  }

  async start(): Promise<void> {
    await this.opts.transport.listen((channel) => this.accept(channel));
    if (this.opts.rounds === 0) this.finish();
  }

  /** Stop: close every connection (clients see the coordinator going away). */
  async stop(reason = 'coordinator stopped'): Promise<void> {
    if (this.active) this.clearTimer(this.active);
    this.endRegroup();
    this.state = 'stopped';
    await this.opts.transport.close(CloseCode.GOING_AWAY, reason);
    this.finishedResolve();
  }

  status(): CoordinatorStatus {
    let authenticated = 0;
    for (const s of this.sessions) if (s.identity !== undefined && s.state !== 'closed') authenticated++;
    return {
      name: this.opts.name ?? 'fedveil',
      state: this.state,
      round: this.active ? this.active.round : null,
      stage: this.active ? this.active.stage : null,
      roundsCompleted: this.completed,
      roundsPlanned: this.opts.rounds ?? null,
      clients: { connected: this.sessions.size, authenticated, inRound: this.active ? this.active.roster.filter((s) => s.state !== 'closed').length : 0 },
      minClients: this.minClients,
      dim: this.opts.dim,
      bits: this.opts.bits,
      lastRound: this.last,
    };
  }

  private emit(event: CoordinatorEvent): void {
    this.opts.onEvent?.(event);
  }

  private send(session: Session, msg: ServerMessage): void {
    session.channel.send(encodeMessage(msg));
  }

  private reject(session: Session, closeCode: number, code: string, message: string): void {
    this.emit({ type: 'rejected', remote: session.channel.remote, code, message });
    this.send(session, { t: 'error', code, message });
    session.channel.close(closeCode, code);
  }

  private accept(channel: Channel): void {
    const session: Session = { channel, nonce: randomBytes(32, this.rng), state: 'handshake', lastSeq: 0, readyExpected: false, standing: false, budget: 0, envelopes: 0 };
    this.sessions.add(session);
    this.emit({ type: 'connected', remote: channel.remote });
    channel.onMessage((frame) => this.onFrame(session, frame));
    channel.onClose((info) => this.onClose(session, info.code, info.reason));
    session.authTimer = setTimeout(() => {
      if (session.state === 'handshake') this.reject(session, CloseCode.AUTH_TIMEOUT, 'AUTH_TIMEOUT', 'no authentication in time');
    }, this.authTimeoutMs);
    session.authTimer.unref?.();
    this.send(session, { t: 'hello', v: WIRE_VERSION, nonce: session.nonce, session: this.sessionId, name: this.opts.name ?? 'fedveil' });
  }

  private onFrame(session: Session, frame: Uint8Array): void {
    if (session.state === 'closed') return;
    let msg;
    try {
      msg = decodeClientMessage(frame);
    } catch (err) {
      // I3: a malformed frame closes this connection only.
      this.reject(session, CloseCode.INVALID_DATA, 'INVALID_MESSAGE', err instanceof Error ? err.message : 'invalid frame');
      return;
    }
    if (msg.t === 'auth') {
      if (session.state !== 'handshake') return this.reject(session, CloseCode.PROTOCOL_ERROR, 'INVALID_MESSAGE', 'auth sent twice');
      this.authenticate(session, msg.pk, msg.sig, msg.token, msg.cert);
      return;
    }
    if (session.state !== 'ready' || !session.pk || !session.binding) {
      return this.reject(session, CloseCode.PROTOCOL_ERROR, 'INVALID_MESSAGE', 'protocol frame before authentication');
    }
    if (msg.t === 'ready') {
      // One `ready` per `welcome` / `result`: it opens the next round's frame budget.
      if (!session.readyExpected) return this.reject(session, CloseCode.FRAME_BUDGET, 'FRAME_BUDGET', 'ready sent twice in one round');
      session.readyExpected = false;
      clearTimeout(session.readyTimer);
      session.standing = true;
      session.budget = this.framesPerRound;
      session.envelopes = 0;
      this.regrouping?.delete(session);
      this.emit({ type: 'ready', identity: session.identity! });
      this.maybeOpenRound();
      return;
    }
    // The per-round frame budget is checked before any signature work.
    if (++session.envelopes > session.budget) {
      return this.reject(session, CloseCode.FRAME_BUDGET, 'FRAME_BUDGET', session.budget === 0 ? 'envelope before ready' : `envelope ${session.envelopes} exceeds the budget of ${session.budget} per round`);
    }
    // Replay protection: strictly increasing sequence per connection.
    if (msg.seq <= session.lastSeq) return this.reject(session, CloseCode.REPLAY, 'REPLAY', `sequence ${msg.seq} not above ${session.lastSeq}`);
    // Bind the frame to the identity authenticated on this connection.
    if (!verifyEnvelope(session.pk, session.binding, msg.seq, msg.round, msg.payload, msg.sig)) {
      return this.reject(session, CloseCode.BAD_SIGNATURE, 'BAD_SIGNATURE', 'envelope signature does not verify');
    }
    session.lastSeq = msg.seq;
    const round = this.active;
    if (!round || round.ended || msg.round !== round.round || session.index === undefined) {
      // A late frame for a finished round: harmless, ignored.
      return;
    }
    if (msg.payload.length > round.config.limits.maxFrameBytes) {
      return this.reject(session, CloseCode.TOO_BIG, 'FRAME_TOO_LARGE', `frame of ${msg.payload.length} bytes`);
    }
    const index = session.index;
    if (!round.arrived.has(index)) (round.responseMs[round.stage] ??= []).push(Date.now() - round.stageStartedAt);
    round.arrived.add(index);
    // `spoke` counts frames the state machine has HANDLED: a stage closed early (every live member
    // spoke) must never overtake frames still queued behind it.
    const stage = round.stage;
    this.enqueue(round, () => {
      if (round.stage === stage) round.spoke.add(index);
      return round.server.handle(index, msg.payload);
    });
  }

  private authenticate(session: Session, pk: Uint8Array, sig: Uint8Array, token: string, cert: Uint8Array | undefined): void {
    if (!verifyAuth(pk, session.nonce, this.sessionId, sig)) {
      return this.reject(session, CloseCode.AUTH_FAILED, 'AUTH_FAILED', 'challenge signature does not verify');
    }
    if (this.opts.authorities && this.opts.authorities.length > 0) {
      const problem = checkCertificate(decodeCertificate(cert), {
        authorities: this.opts.authorities, now: Math.floor(Date.now() / 1000), subject: pk, ...(this.opts.revoked ? { revoked: this.opts.revoked } : {}),
      });
      if (problem) return this.reject(session, CloseCode.AUTH_FAILED, 'NOT_CERTIFIED', `certificate ${problem}`);
    }
    if (cert !== undefined) session.cert = cert;
    // A valid certificate from a configured authority is itself the enrolment.
    const certified = this.opts.authorities !== undefined && this.opts.authorities.length > 0;
    const identity = hex(pk);
    const { enrolment } = this.opts;
    if (!certified && !enrolment.enrolled.has(identity)) {
      if (enrolment.token !== undefined && enrolment.token.length > 0 && constantTimeEqual(token, enrolment.token)) {
        if (this.tokenEnrolments >= this.maxTokenEnrolments) {
          return this.reject(session, CloseCode.ENROLMENT_LIMIT, 'ENROLMENT_LIMIT', `the enrolment token has registered its maximum of ${this.maxTokenEnrolments} identities`);
        }
        this.tokenEnrolments++;
        enrolment.enrolled.add(identity);
        enrolment.onEnrol?.(identity);
      } else {
        return this.reject(session, CloseCode.NOT_ENROLLED, 'NOT_ENROLLED', 'identity is not enrolled');
      }
    }
    const existing = this.byIdentity.get(identity);
    if (existing && existing.state !== 'closed') {
      // The live session keeps its place: a second connection cannot take over an identity.
      return this.reject(session, CloseCode.ALREADY_CONNECTED, 'ALREADY_CONNECTED', 'identity already connected');
    }
    clearTimeout(session.authTimer);
    session.pk = pk;
    session.identity = identity;
    session.binding = channelBinding(session.nonce, this.sessionId, pk);
    session.state = 'ready';
    session.channel.markAuthenticated?.();
    this.byIdentity.set(identity, session);
    this.expectReady(session);
    this.send(session, { t: 'welcome', identity });
    this.emit({ type: 'authenticated', identity, remote: session.channel.remote });
  }

  /** `welcome` or `result` goes out: the client owes one `ready` within the readiness deadline. */
  private expectReady(session: Session): void {
    session.standing = false;
    session.readyExpected = true;
    clearTimeout(session.readyTimer);
    if (this.readyTimeoutMs === 0) return;
    session.readyTimer = setTimeout(() => {
      if (session.state === 'ready' && session.readyExpected && this.state !== 'finished' && this.state !== 'stopped') {
        this.reject(session, CloseCode.NOT_READY, 'NOT_READY', 'no ready in time');
      }
    }, this.readyTimeoutMs);
    session.readyTimer.unref?.();
  }

  private onClose(session: Session, code: number, reason: string): void {
    if (session.state === 'closed') return;
    session.state = 'closed';
    clearTimeout(session.authTimer);
    clearTimeout(session.readyTimer);
    if (this.regrouping?.delete(session)) setTimeout(() => this.maybeOpenRound(), 0);
    this.sessions.delete(session);
    if (session.identity !== undefined && this.byIdentity.get(session.identity) === session) this.byIdentity.delete(session.identity);
    this.emit({ type: 'disconnected', remote: session.channel.remote, ...(session.identity !== undefined ? { identity: session.identity } : {}), code, reason });
    const round = this.active;
    if (round && !round.ended && session.index !== undefined) this.enqueue(round, async () => this.closeStageIfAllSpoke(round));
  }

  /** Authenticated clients that said `ready` and are on no roster: the next round is formed from these only. */
  private waiting(): Session[] {
    const out: Session[] = [];
    for (const s of this.sessions) if (s.state === 'ready' && s.standing && s.index === undefined) out.push(s);
    return out;
  }

  private maybeOpenRound(): void {
    if (this.active || this.opening || this.state === 'stopped' || this.state === 'finished') return;
    if (this.opts.rounds !== undefined && this.completed >= this.opts.rounds) return;
    if (this.opts.more && !this.opts.more()) {
      this.finish();
      return;
    }
    if (this.regrouping && this.regrouping.size > 0) return;
    const ready = this.waiting();
    if (ready.length < Math.max(this.minClients, this.opts.population ?? 0)) return;
    this.endRegroup();
    let roster = ready.slice(0, this.maxClients);
    if (this.opts.select) {
      const picked = this.opts.select(ready.length);
      if (picked.length < this.minClients || picked.length > this.maxClients) {
        const round = this.nextRound++;
        const reason = picked.length < this.minClients ? `selected ${picked.length} of ${ready.length} ready clients, fewer than the ${this.minClients} a round needs` : `selected ${picked.length} clients, more than the largest roster (${this.maxClients})`;
        this.last = { round, ok: false, n: 0, survivors: 0, durationMs: 0, reason };
        this.emit({ type: 'round-skipped', round, pool: ready.length, selected: picked.length, reason });
        setTimeout(() => this.maybeOpenRound(), 0);
        return;
      }
      roster = picked.map((i) => ready[i]!);
    }
    this.opening = true;
    try {
      this.openRound(roster);
    } catch (err) {
      // The budget guard refused the next round: a normal end of training.
      if (err instanceof BudgetExceeded) this.finish(`privacy budget exhausted: ${err.message}`);
      else this.fail(err);
    } finally {
      this.opening = false;
    }
  }

  private openRound(roster: Session[]): void {
    const n = roster.length;
    const { protocol } = this.opts;
    const mode = this.opts.mode ?? 'semi-honest';
    const choice = protocol.chooseParams(n, this.opts.dropout ?? 0.1, mode === 'active' ? this.opts.colluders ?? 0 : 0, mode);
    const minSurvivors = Math.min(n, Math.max(choice.threshold, this.opts.minSurvivors?.(n) ?? choice.threshold));
    // First, so that a refusal (the privacy budget guard) leaves no round behind.
    const made = this.opts.task?.(this.nextRound, n, { ...choice, minSurvivors }) ?? { kind: 'vector' as const };
    const task: RoundTask = 'task' in made ? made.task : made;
    const dim = 'task' in made ? made.dim : this.opts.dim;
    const bits = 'task' in made ? made.bits : this.opts.bits;
    aint('round dim', dim, 1);
    aint('round bits', bits, 1, 32);
    // The round commitment (I5): the roster's Merkle root, the plan, the
    // model and this coordinator's session; clients recompute the last three
    // from what they receive, and the root from the entries they check.
    const rosterEntries = roster.map((s, i) => ({ id: i + 1, key: s.pk!, certificate: s.cert ?? new Uint8Array(0) }));
    const commitment = new RosterCommitment(rosterEntries);
    const dpPlan = task.kind === 'train' ? task.dp : undefined;
    const config = protocol.makeConfig({
      n,
      threshold: choice.threshold,
      minSurvivors,
      degree: choice.degree,
      graph: choice.graph,
      dim,
      bits,
      mode,
      ...(mode === 'active' ? { verifyKeys: roster.map((s) => s.pk!) } : {}),
      seed: randomBytes(32, this.rng),
      round: this.nextRound,
      stageTimeoutMs: this.stageTimeoutMs,
      maxFrameBytes: this.opts.maxFrameBytes ?? defaultMaxFrameBytes(n, dim, bits),
      commitment: {
        rosterRoot: commitment.root,
        planHash: dpPlan !== undefined && this.opts.planHash ? this.opts.planHash(dpPlan) : new Uint8Array(32),
        modelHash: task.kind === 'train' || task.kind === 'evaluate' ? sha256(task.global) : new Uint8Array(32),
        coordinatorSession: this.sessionId,
      },
    });
    const server = protocol.createServer(config);
    const now = Date.now();
    const round: ActiveRound = {
      round: this.nextRound,
      config,
      server,
      roster,
      startedAt: now,
      stage: server.stage,
      stageStartedAt: now,
      spoke: new Set(),
      arrived: new Set(),
      stageMs: [],
      responseMs: {},
      queue: Promise.resolve(),
      ended: false,
    };
    this.active = round;
    this.state = 'round';
    this.emit({ type: 'round-start', round: round.round, n, threshold: config.threshold });
    const wireEntry = (id: number, withProof: boolean) => {
      const e = commitment.entry(id);
      return { id, key: e.key, cert: e.certificate, proof: withProof ? commitment.proof(id).path.slice() : [] };
    };
    // The full graph: every entry, no proofs (clients recompute the root).
    // SecAgg+: each client gets its share holders' entries with proofs, O(k log n).
    const everyone = config.graph === 'full' ? rosterEntries.map((e) => wireEntry(e.id, false)) : undefined;
    const graph = config.graph === 'full' ? undefined : neighbourGraph(config);
    roster.forEach((s, i) => {
      s.index = i + 1;
      this.send(s, {
        t: 'round',
        round: round.round,
        index: i + 1,
        config: {
          n,
          threshold: config.threshold,
          minSurvivors: config.minSurvivors,
          bits: config.bits,
          dim: config.dim,
          graph: config.graph,
          degree: config.degree,
          mode: config.mode,
          seed: config.seed,
          stageTimeoutMs: config.stageTimeoutMs,
          maxFrameBytes: config.limits.maxFrameBytes,
          roster: { root: commitment.root, entries: everyone ?? graph!.holders(i + 1).map((id) => wireEntry(id, true)) },
        },
        task,
      });
    });
    this.armTimer(round);
  }

  private armTimer(round: ActiveRound): void {
    this.clearTimer(round);
    round.timer = setTimeout(() => {
      this.enqueue(round, async () => {
        if (round.ended) return [];
        return this.runDeadline(round);
      });
    }, this.stageTimeoutMs);
  }

  private clearTimer(round: ActiveRound): void {
    if (round.timer !== undefined) clearTimeout(round.timer);
    round.timer = undefined;
  }

  private runDeadline(round: ActiveRound): Promise<Outgoing[]> {
    round.viaDeadline = true;
    return round.server.deadline();
  }

  /** Close the stage early when every live roster member has spoken in it. */
  private async closeStageIfAllSpoke(round: ActiveRound): Promise<Outgoing[]> {
    if (round.ended || round.stage === 'Done' || round.stage === 'Aborted') return [];
    for (const s of round.roster) {
      if (s.state !== 'closed' && s.index !== undefined && !round.spoke.has(s.index)) return [];
    }
    return this.runDeadline(round);
  }

  /** Serialise a state-machine call, then route its output and track the stage. */
  private enqueue(round: ActiveRound, step: () => Promise<Outgoing[]>): void {
    round.queue = round.queue
      .then(async () => {
        if (round.ended) return;
        const out = await step();
        if (await this.route(round, out)) await this.afterStep(round);
      })
      .catch((err: unknown) => this.fail(err));
  }

  /** Deliver the state machine's output; false when the round was aborted instead. */
  private async route(round: ActiveRound, out: Outgoing[]): Promise<boolean> {
    const stage = round.server.stage;
    if (round.stage === 'MaskedInputCollection' && stage !== round.stage && stage !== 'Aborted') {
      round.masked = round.spoke.size;
      round.maskedKeys = this.keysOf(round, round.spoke);
      if (this.opts.minSurvivors) {
        // I6: never unmask a sum that carries less noise than planned.
        const need = this.opts.minSurvivors(round.config.n);
        if (round.spoke.size < need) {
          await this.endRound(round, `only ${round.spoke.size} masked inputs, fewer than the ${need} clients the DP noise is calibrated for (I6); nothing unmasked`);
          return false;
        }
      }
    }
    if (stage === 'Unmasking' && round.stage !== 'Unmasking' && this.opts.beforeUnmask) {
      // I8: the round's privacy cost is durable before any unmasking request leaves.
      try {
        await this.opts.beforeUnmask({
          round: round.round, n: round.config.n, threshold: round.config.threshold, survivors: round.masked ?? round.spoke.size,
          participants: round.maskedKeys ?? this.keysOf(round, round.spoke),
        });
      } catch (err) {
        await this.endRound(round, `the round's privacy cost could not be recorded, nothing unmasked: ${err instanceof Error ? err.message : String(err)}`, 'COST_NOT_RECORDED');
        if (!(err instanceof BudgetExceeded)) {
          // A ledger that cannot record is fatal: open no further round.
          this.state = 'stopped';
          this.fail(err);
        }
        return false;
      }
    }
    for (const o of out) {
      if (o.to === 'server') continue;
      const target = round.roster[o.to - 1];
      if (target && target.state !== 'closed') this.send(target, { t: 'frame', round: round.round, payload: o.frame });
    }
    return true;
  }

  /** Public keys of the roster members with these (1-based) ids. */
  private keysOf(round: ActiveRound, ids: Iterable<number>): Uint8Array[] {
    return [...ids].map((id) => round.roster[id - 1]!.pk!);
  }

  private async afterStep(round: ActiveRound): Promise<void> {
    const stage = round.server.stage;
    if (stage === round.stage) {
      // The state machine waits for every expected member; once the only
      // silent ones are disconnected, waiting for the timer is pointless.
      if (round.roster.some((s) => s.state === 'closed')) {
        const out = await this.closeStageIfAllSpoke(round);
        if ((out.length > 0 || round.server.stage !== round.stage) && (await this.route(round, out))) await this.afterStep(round);
      }
      return;
    }
    const now = Date.now();
    round.stageMs.push({ stage: round.stage, ms: now - round.stageStartedAt, viaDeadline: round.viaDeadline === true });
    this.emit({ type: 'stage', round: round.round, stage, viaDeadline: round.viaDeadline === true });
    round.stage = stage;
    round.stageStartedAt = now;
    round.viaDeadline = false;
    round.spoke = new Set();
    round.arrived = new Set();
    if (stage === 'Done' || stage === 'Aborted') {
      await this.endRound(round);
      return;
    }
    this.armTimer(round);
    // Members that dropped earlier will not speak in this stage either.
    const out = await this.closeStageIfAllSpoke(round);
    if ((out.length > 0 || round.server.stage !== round.stage) && (await this.route(round, out))) await this.afterStep(round);
  }

  private async endRound(round: ActiveRound, abortReason?: string, abortCode: ProtocolAborted['code'] = 'TOO_FEW_SURVIVORS'): Promise<void> {
    if (round.ended) return;
    round.ended = true;
    this.clearTimer(round);
    const roster = round.roster.map((s) => s.identity ?? '');
    let ok = true;
    let reason = '';
    let sum: Uint32Array = new Uint32Array(0);
    let survivors: string[] = [];
    try {
      if (abortReason !== undefined) throw new ProtocolAborted(abortReason, { code: abortCode });
      const result = round.server.result();
      sum = result.sum;
      survivors = result.survivors.map((id) => roster[id - 1] ?? '');
    } catch (err) {
      ok = false;
      reason = err instanceof Error ? err.message : String(err);
    }
    const record: RoundRecord = {
      round: round.round,
      ok,
      n: round.config.n,
      threshold: round.config.threshold,
      dim: round.config.dim,
      bits: round.config.bits,
      survivors,
      roster,
      sum,
      reason,
      startedAt: round.startedAt,
      durationMs: Date.now() - round.startedAt,
      stageMs: round.stageMs,
      responseMs: round.responseMs,
    };
    if (ok) await this.opts.onRound?.(record);
    this.emit({ type: 'round-end', record });
    const included = new Set(survivors);
    for (const s of round.roster) {
      s.index = undefined;
      if (s.state !== 'closed') this.expectReady(s);
      if (s.state !== 'closed') this.send(s, { t: 'result', round: round.round, ok, included: ok && s.identity !== undefined && included.has(s.identity), survivors: survivors.length, reason });
    }
    this.last = { round: round.round, ok, n: record.n, survivors: survivors.length, durationMs: record.durationMs, reason };
    this.active = undefined;
    this.nextRound++;
    if (ok) this.completed++;
    this.state = 'waiting';
    if ((this.opts.rounds !== undefined && this.completed >= this.opts.rounds) || (this.opts.more && !this.opts.more())) {
      this.finish();
      return;
    }
    // The next round waits, briefly, for this round's members to say ready.
    this.endRegroup();
    if (this.readyWaitMs > 0) {
      this.regrouping = new Set(round.roster.filter((s) => s.state !== 'closed'));
      this.regroupTimer = setTimeout(() => {
        this.regrouping = undefined;
        this.maybeOpenRound();
      }, this.readyWaitMs);
      this.regroupTimer.unref?.();
    }
    // Let the clients process the result before the next round opens.
    setTimeout(() => this.maybeOpenRound(), 0);
  }

  private endRegroup(): void {
    clearTimeout(this.regroupTimer);
    this.regroupTimer = undefined;
    this.regrouping = undefined;
  }

  private finish(reason = 'all rounds completed'): void {
    this.state = 'finished';
    for (const s of this.sessions) if (s.state === 'ready') this.send(s, { t: 'bye', reason });
    this.emit({ type: 'finished', reason });
    this.finishedResolve();
  }

  private fail(err: unknown): void {
    const cause = err instanceof Error ? err : new Error(String(err));
    this.finishedReject(cause instanceof FedveilError ? cause : new ProtocolAborted(`coordinator failed: ${cause.message}`, { cause }));
  }
}

/** Default frame cap: the largest legitimate SecAgg frame for (n, d, b) with generous slack. */
export function defaultMaxFrameBytes(n: number, dim: number, bits: number): number {
  const packed = Math.ceil((dim * bits) / 8);
  // Masked input is dominated by the packed vector; share bundles and
  // broadcasts grow with n (a few hundred bytes per peer).
  return packed + 512 * n + 65536;
}

function constantTimeEqual(a: string, b: string): boolean {
  const ea = new TextEncoder().encode(a);
  const eb = new TextEncoder().encode(b);
  let diff = ea.length ^ eb.length;
  for (let i = 0; i < Math.max(ea.length, eb.length); i++) diff |= (ea[i] ?? 0) ^ (eb[i] ?? 0);
  return diff === 0;
}
