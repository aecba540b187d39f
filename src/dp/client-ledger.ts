/**
 * A client's own privacy ledger: every round it took part in, signed by the
 * client and hash-chained, and the epsilon those participations spent,
 * enforced against the client's budget BEFORE it sends anything.
 *
 * Threat model: the coordinator is the adversary. It chooses the sample and
 * sees the roster, so the client claims no amplification by sampling: each
 * participation is accounted as the plan's unamplified per-round event
 * (a `poisson_sampled` wrapper is removed), composed by RDP (Mironov 2017;
 * the discrete-Gaussian and Skellam bounds of Kairouz, Liu, Steinke, ICML
 * 2021, and Agarwal, Kairouz, Liu, NeurIPS 2021, via distributedRdp),
 * converted to (epsilon, delta) by Canonne, Kamath, Steinke 2020 Prop. 12.
 * A coordinator cannot reset the count by opening new sessions: the ledger
 * spans every coordinator the client talks to.
 *
 * Contract with the participant (the caller):
 *   1. verify the plan (plan-verify.ts), then call `check()` BEFORE touching
 *      any data: it throws PolicyViolation ('budget.epsilon',
 *      'budget.maxParticipations' or 'replay') and the client sends nothing;
 *   2. call `record()` right before sending the masked input and send only
 *      once it has resolved: the line is then durable (fsync'd, or a
 *      committed 'strict' IndexedDB transaction). If `record()` throws, do
 *      not send. A crash between `record()` and sending over-counts one
 *      participation, never under-counts.
 *
 * Line format (UTF-8 JSON Lines, one participation per line): the canonical
 * JSON of the ledger format (ledger-format.ts: sorted keys, no whitespace)
 * of { v: 1, seq, round, coordinator, roundTag, event, time, prevHash, sig }:
 * seq = 1, 2, ... without gaps; coordinator and roundTag lower-case hex;
 * event the unamplified discrete_gaussian / skellam event; time ISO 8601;
 * prevHash = hex SHA-256 of the previous line's bytes (for line 1, of
 * CLIENT_LEDGER_GENESIS || hex public key); sig = hex Ed25519 (RFC 8032)
 * over CLIENT_LEDGER_SIG_DOMAIN || canonical JSON of the line without sig.
 * A store may keep a signed head record { v: 1, kind: 'head',
 * participations, headHash, sig } apart from the lines, so that dropping
 * whole lines from the end is detected too.
 *
 * Assumptions: one writer per store; the client's signing key stays on the
 * device. Local storage is not the adversary here: whoever can rewrite both
 * the lines and the head (or restore an old copy of both) can roll the
 * ledger back, as nothing short of a trusted monotonic counter prevents.
 */
import { InvalidArgument, LedgerIntegrityError, PolicyViolation } from '../errors.js';
import { ed25519PublicKey, ed25519Sign, ed25519Verify } from '../crypto/signatures.js';
import { validateEvent } from './events.js';
import { distributedRdp, type DistributedNoiseEvent, type PoissonSampledDistributedEvent } from './distributed-rdp.js';
import { bytesToLowerHex, canonicalJson, isIsoTime, lineHash, lowerHexToBytes } from './ledger-format.js';
import { DEFAULT_RDP_ORDERS, rdpToEpsilon } from './rdp.js';

/** Where a client ledger's lines live (file, memory, IndexedDB). One writer at a time. */
export interface ClientLedgerStore {
  /** Every line in order, without terminators. Throws LedgerIntegrityError for a torn or undecodable store. */
  load(): Promise<string[]>;
  /** Append one line durably: resolve only once it would survive a crash. */
  append(line: string): Promise<void>;
  /** The signed head record, if one was saved (kept apart from the lines). */
  loadHead?(): Promise<string | undefined>;
  /** Replace the head record durably (after each append). */
  saveHead?(head: string): Promise<void>;
}

export const CLIENT_LEDGER_SIG_DOMAIN = 'fedveil/v1/client-ledger-line\n';
export const CLIENT_LEDGER_HEAD_DOMAIN = 'fedveil/v1/client-ledger-head\n';
export const CLIENT_LEDGER_GENESIS = 'fedveil/v1/client-ledger-genesis\n';

/**
 * A round that released several noised statistics computed from the same
 * data (an update and an adaptive-clipping count): their RDP adds (Mironov
 * 2017, Prop. 1). Only distributed-noise parts, never sampled ones.
 */
export interface ComposedParticipationEvent {
  readonly type: 'composed';
  readonly events: readonly DistributedNoiseEvent[];
}

/** What one participation recorded: one distributed-noise event, or a composition of them. */
export type ParticipationEvent = DistributedNoiseEvent | ComposedParticipationEvent;

/** One recorded participation. */
export interface ClientLedgerEntry {
  readonly seq: number;
  readonly round: number;
  /** Lower-case hex of the coordinator's session / public key. */
  readonly coordinator: string;
  /** Lower-case hex of the round tag. */
  readonly roundTag: string;
  /** The unamplified per-round event. */
  readonly event: ParticipationEvent;
  readonly time: string;
}

export interface ClientLedgerOptions {
  /** The client's Ed25519 secret key (32-byte RFC 8032 seed); the ledger keeps a copy. */
  signingKey: Uint8Array;
  /** The client's budget: epsilon at delta, over every participation ever recorded. */
  budget: { epsilon: number; delta: number };
  /** At most this many participations (default: unlimited). */
  maxParticipations?: number;
  /** The head the caller last saw (from {@link ClientPrivacyLedger.head}), kept elsewhere: a store behind it is refused. */
  expectHead?: { participations: number; hash: string };
  /** RDP orders (default DEFAULT_RDP_ORDERS). */
  orders?: readonly number[];
  /** Clock for the time field (default the system clock). */
  now?: () => Date;
}

/** A participation the client is asked to make. */
export interface ParticipationRequest {
  /** The verified plan's event; a poisson_sampled wrapper is removed (no amplification is claimed). */
  event: DistributedNoiseEvent | PoissonSampledDistributedEvent | ComposedParticipationEvent;
  /** The round's tag (bytes or hex): never recorded twice. */
  roundTag: Uint8Array | string;
  /** The coordinator's session / public key (bytes or hex). */
  coordinator: Uint8Array | string;
  /** The round number: must exceed the last one recorded for this coordinator. */
  round: number;
}

export interface PrivacySpent {
  readonly epsilon: number;
  readonly delta: number;
  readonly participations: number;
  readonly accountant: 'rdp';
}

export interface ParticipationCheck {
  /** Epsilon after this participation. */
  readonly epsilon: number;
  readonly budget: number;
  readonly remaining: number;
  /** Participations after this one. */
  readonly participations: number;
}

export interface RecordedParticipation extends ParticipationCheck {
  readonly entry: ClientLedgerEntry;
  /** Hex SHA-256 of the new last line (keep it elsewhere to pass as expectHead). */
  readonly headHash: string;
}

const utf8 = new TextEncoder();
const LINE_KEYS = ['coordinator', 'event', 'prevHash', 'round', 'roundTag', 'seq', 'sig', 'time', 'v'];
const HEAD_KEYS = ['headHash', 'kind', 'participations', 'sig', 'v'];
const MAX_ID_BYTES = 256;

function hexId(name: string, v: Uint8Array | string): string {
  let hex: string;
  if (v instanceof Uint8Array) hex = bytesToLowerHex(v);
  else if (typeof v === 'string') hex = v.toLowerCase(); // one spelling per tag: replay checks compare strings
  else throw new InvalidArgument(`${name}: expected bytes or a hex string`);
  if (hex.length === 0 || hex.length > 2 * MAX_ID_BYTES || hex.length % 2 !== 0 || !/^[0-9a-f]+$/.test(hex)) {
    throw new InvalidArgument(`${name}: expected 1..${MAX_ID_BYTES} bytes as hex`);
  }
  return hex;
}

/** The unamplified event as a plain, frozen object with exactly its fields. */
/** A participation's event: plainEvent, or a composition of plain events (no sampling inside). */
function participationEvent(name: string, e: unknown): ParticipationEvent {
  if (typeof e === 'object' && e !== null && (e as { type?: unknown }).type === 'composed') {
    const parts = (e as { events?: unknown }).events;
    if (!Array.isArray(parts) || parts.length < 1 || parts.length > 8) throw new InvalidArgument(`${name}.events: expected 1 to 8 events`);
    return Object.freeze({
      type: 'composed' as const,
      events: Object.freeze(parts.map((x, i) => {
        if (typeof x === 'object' && x !== null && (x as { type?: unknown }).type === 'poisson_sampled') throw new InvalidArgument(`${name}.events[${i}]: a sampled event cannot be part of a recorded composition`);
        return plainEvent(`${name}.events[${i}]`, x);
      })),
    });
  }
  return plainEvent(name, e);
}

function plainEvent(name: string, e: unknown): DistributedNoiseEvent {
  let inner = e;
  if (typeof e === 'object' && e !== null && (e as { type?: unknown }).type === 'poisson_sampled') inner = (e as { event?: unknown }).event;
  try {
    validateEvent(inner, name);
  } catch (err) {
    throw new InvalidArgument(`${name}: ${(err as Error).message}`, { cause: err });
  }
  const x = inner as DistributedNoiseEvent;
  const common = { clients: x.clients, l2Sensitivity: x.l2Sensitivity, l1Sensitivity: x.l1Sensitivity, dimension: x.dimension };
  if (x.type === 'discrete_gaussian') return Object.freeze({ type: 'discrete_gaussian', sigma: x.sigma, ...common });
  if (x.type === 'skellam') return Object.freeze({ type: 'skellam', mu: x.mu, ...common });
  throw new InvalidArgument(`${name}: expected a discrete_gaussian or skellam event (possibly poisson_sampled), got ${String((x as { type?: unknown }).type)}`);
}

function sign(obj: Record<string, unknown>, domain: string, secretKey: Uint8Array): string {
  const sig = bytesToLowerHex(ed25519Sign(secretKey, utf8.encode(domain + canonicalJson(obj))));
  return canonicalJson({ ...obj, sig });
}

function verifySig(obj: Record<string, unknown>, domain: string, publicKey: Uint8Array): boolean {
  const { sig, ...rest } = obj;
  if (typeof sig !== 'string' || !/^[0-9a-f]{128}$/.test(sig)) return false;
  return ed25519Verify(publicKey, utf8.encode(domain + canonicalJson(rest)), lowerHexToBytes('sig', sig, 64));
}

/** Parse one stored line as canonical JSON with exactly `keys`, else LedgerIntegrityError at `lineNo`. */
function parseCanonical(text: unknown, keys: readonly string[], lineNo: number | undefined, what: string): Record<string, unknown> {
  if (typeof text !== 'string' || text.length === 0 || text.includes('\n')) throw new LedgerIntegrityError(`${what}: not a single non-empty line`, lineNo);
  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch (err) {
    throw new LedgerIntegrityError(`${what}: not JSON`, lineNo, { cause: err });
  }
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) throw new LedgerIntegrityError(`${what}: not a JSON object`, lineNo);
  let canon: string;
  try {
    canon = canonicalJson(obj);
  } catch (err) {
    throw new LedgerIntegrityError(`${what}: not canonical JSON`, lineNo, { cause: err });
  }
  if (canon !== text) throw new LedgerIntegrityError(`${what}: not canonical JSON (bytes were changed)`, lineNo);
  const o = obj as Record<string, unknown>;
  const have = Object.keys(o).sort();
  if (have.length !== keys.length || have.some((k, i) => k !== keys[i])) throw new LedgerIntegrityError(`${what}: fields ${have.join(',')}, expected ${keys.join(',')}`, lineNo);
  return o;
}

function isUint(v: unknown, min: number): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= min;
}

function isHexId(v: unknown): v is string {
  return typeof v === 'string' && v.length > 0 && v.length <= 2 * MAX_ID_BYTES && v.length % 2 === 0 && /^[0-9a-f]+$/.test(v);
}

/**
 * A client's signed, hash-chained participation ledger over a
 * {@link ClientLedgerStore}. Open it with {@link ClientPrivacyLedger.open}.
 */
export class ClientPrivacyLedger {
  readonly #store: ClientLedgerStore;
  readonly #secretKey: Uint8Array;
  readonly #publicKey: Uint8Array;
  readonly #budget: { readonly epsilon: number; readonly delta: number };
  readonly #maxParticipations: number;
  readonly #orders: Float64Array;
  readonly #now: () => Date;
  readonly #rdp: Float64Array;
  readonly #entries: ClientLedgerEntry[] = [];
  readonly #tags = new Set<string>();
  readonly #lastRound = new Map<string, number>();
  #headHash: string;
  #lastTime = '';
  #queue: Promise<unknown> = Promise.resolve();
  #broken: Error | undefined;

  private constructor(store: ClientLedgerStore, options: ClientLedgerOptions) {
    this.#store = store;
    this.#secretKey = Uint8Array.from(options.signingKey);
    this.#publicKey = ed25519PublicKey(this.#secretKey);
    this.#budget = Object.freeze({ epsilon: options.budget.epsilon, delta: options.budget.delta });
    this.#maxParticipations = options.maxParticipations ?? Number.MAX_SAFE_INTEGER;
    this.#orders = Float64Array.from(options.orders ?? DEFAULT_RDP_ORDERS);
    this.#now = options.now ?? (() => new Date());
    this.#rdp = new Float64Array(this.#orders.length);
    this.#headHash = lineHash(utf8.encode(CLIENT_LEDGER_GENESIS + bytesToLowerHex(this.#publicKey)));
  }

  /**
   * Open (or start) the ledger in `store`, verifying every line: canonical
   * bytes, sequence, hash chain, signature by this client's key, event
   * shape, no replayed tag or round; and the store's head record (and
   * `expectHead`), which catches lines dropped from the end. Throws
   * LedgerIntegrityError (with the 1-based line) for any failure,
   * InvalidArgument for bad options.
   */
  static async open(store: ClientLedgerStore, options: ClientLedgerOptions): Promise<ClientPrivacyLedger> {
    if (typeof store !== 'object' || store === null || typeof store.load !== 'function' || typeof store.append !== 'function') {
      throw new InvalidArgument('store: expected a ClientLedgerStore { load, append }');
    }
    if (typeof options !== 'object' || options === null) throw new InvalidArgument('options: expected { signingKey, budget }');
    if (!(options.signingKey instanceof Uint8Array) || options.signingKey.length !== 32) throw new InvalidArgument('signingKey: expected a 32-byte Ed25519 secret key');
    const b = options.budget;
    if (typeof b !== 'object' || b === null || typeof b.epsilon !== 'number' || !(b.epsilon >= 0) || !Number.isFinite(b.epsilon)) {
      throw new InvalidArgument('budget.epsilon: expected a finite number >= 0');
    }
    if (typeof b.delta !== 'number' || !(b.delta > 0 && b.delta < 1)) throw new InvalidArgument('budget.delta: expected a number in (0, 1)');
    if (options.maxParticipations !== undefined && !isUint(options.maxParticipations, 0)) throw new InvalidArgument('maxParticipations: expected an integer >= 0');
    if (options.orders !== undefined && (!Array.isArray(options.orders) || options.orders.length === 0 || options.orders.some((a) => !(a > 1)))) {
      throw new InvalidArgument('orders: expected a non-empty list of RDP orders > 1');
    }
    const ledger = new ClientPrivacyLedger(store, options);
    const lines = await store.load();
    if (!Array.isArray(lines)) throw new LedgerIntegrityError('store.load() did not return a list of lines');
    const hashes = [ledger.#headHash];
    lines.forEach((text, i) => {
      ledger.#replay(text, i + 1);
      hashes.push(ledger.#headHash);
    });
    const checkHead = (n: number, hash: string, what: string): void => {
      if (n > lines.length) throw new LedgerIntegrityError(`${what} records ${n} participations, the store has ${lines.length}: lines were removed (truncated or rolled back)`);
      if (hashes[n] !== hash) throw new LedgerIntegrityError(`${what} does not match line ${n}: the ledger was rewritten`, n === 0 ? undefined : n);
    };
    if (store.loadHead !== undefined) {
      const text = await store.loadHead();
      if (text !== undefined) {
        const head = parseCanonical(text, HEAD_KEYS, undefined, 'head record');
        if (head.v !== 1 || head.kind !== 'head' || !isUint(head.participations, 0) || typeof head.headHash !== 'string' || !verifySig(head, CLIENT_LEDGER_HEAD_DOMAIN, ledger.#publicKey)) {
          throw new LedgerIntegrityError('head record: bad fields or signature');
        }
        checkHead(head.participations, head.headHash, 'the head record');
      }
    }
    if (options.expectHead !== undefined) {
      const e = options.expectHead;
      if (typeof e !== 'object' || e === null || !isUint(e.participations, 0) || typeof e.hash !== 'string') throw new InvalidArgument('expectHead: expected { participations, hash }');
      checkHead(e.participations, e.hash, 'expectHead');
    }
    return ledger;
  }

  /** Verify and apply one stored line (1-based `lineNo`). */
  #replay(text: unknown, lineNo: number): void {
    const o = parseCanonical(text, LINE_KEYS, lineNo, 'line');
    if (o.v !== 1) throw new LedgerIntegrityError('unknown version', lineNo);
    if (o.seq !== lineNo) throw new LedgerIntegrityError(`seq ${String(o.seq)} out of order`, lineNo);
    if (o.prevHash !== this.#headHash) throw new LedgerIntegrityError('prevHash does not chain to the previous line (a line was changed, removed or moved)', lineNo);
    if (!verifySig(o, CLIENT_LEDGER_SIG_DOMAIN, this.#publicKey)) throw new LedgerIntegrityError("signature does not verify under this client's key", lineNo);
    if (!isUint(o.round, 0) || !isHexId(o.coordinator) || !isHexId(o.roundTag) || !isIsoTime(o.time) || o.time < this.#lastTime) {
      throw new LedgerIntegrityError('bad round, coordinator, roundTag or time', lineNo);
    }
    let event: ParticipationEvent;
    try {
      event = participationEvent('event', o.event);
    } catch (err) {
      throw new LedgerIntegrityError('bad event', lineNo, { cause: err });
    }
    if ((o.event as { type?: unknown }).type === 'poisson_sampled') throw new LedgerIntegrityError('a recorded event claims sampling amplification', lineNo);
    const why = this.#replayProblem(o.roundTag, o.coordinator, o.round);
    if (why !== undefined) throw new LedgerIntegrityError(why, lineNo);
    this.#apply({ seq: lineNo, round: o.round, coordinator: o.coordinator, roundTag: o.roundTag, event, time: o.time }, this.#rdpOf(event), lineHash(utf8.encode(text as string)));
  }

  #rdpOf(event: ParticipationEvent): Float64Array {
    if (event.type !== 'composed') return Float64Array.from(distributedRdp(event, Array.from(this.#orders)));
    const sum = new Float64Array(this.#orders.length);
    for (const part of event.events) {
      const r = distributedRdp(part, Array.from(this.#orders));
      for (let k = 0; k < sum.length; k++) sum[k]! += r[k]!;
    }
    return sum;
  }

  #apply(entry: ClientLedgerEntry, rdp: Float64Array, hash: string): void {
    for (let k = 0; k < rdp.length; k++) this.#rdp[k]! += rdp[k]!;
    this.#entries.push(Object.freeze(entry));
    this.#tags.add(entry.roundTag);
    this.#lastRound.set(entry.coordinator, entry.round);
    this.#headHash = hash;
    this.#lastTime = entry.time;
  }

  #replayProblem(roundTag: string, coordinator: string, round: number): string | undefined {
    if (this.#tags.has(roundTag)) return `round tag ${roundTag.slice(0, 16)}... was already recorded`;
    const last = this.#lastRound.get(coordinator);
    if (last !== undefined && !(round > last)) return `round ${round} is not above round ${last} already recorded for this coordinator`;
    return undefined;
  }

  #epsilonOf(rdp: Float64Array): number {
    return rdpToEpsilon(this.#orders, rdp, this.#budget.delta).epsilon;
  }

  /** The client's Ed25519 public key (it verifies every line). */
  get publicKey(): Uint8Array {
    return this.#publicKey.slice();
  }

  get budget(): { readonly epsilon: number; readonly delta: number } {
    return this.#budget;
  }

  /** Recorded participations, oldest first. */
  get entries(): readonly ClientLedgerEntry[] {
    return this.#entries.slice();
  }

  /** The count and last line hash: keep them elsewhere and pass them as `expectHead` on the next open. */
  get head(): { readonly participations: number; readonly hash: string } {
    return { participations: this.#entries.length, hash: this.#headHash };
  }

  /** RDP composition of the unamplified events of every recorded participation, at the budget's delta. */
  privacySpent(): PrivacySpent {
    return { epsilon: this.#epsilonOf(this.#rdp), delta: this.#budget.delta, participations: this.#entries.length, accountant: 'rdp' };
  }

  #checkNormalized(event: ParticipationEvent, roundTag: string, coordinator: string, round: number): { check: ParticipationCheck; rdp: Float64Array } {
    const replay = this.#replayProblem(roundTag, coordinator, round);
    if (replay !== undefined) throw new PolicyViolation('replay', replay);
    const participations = this.#entries.length + 1;
    if (participations > this.#maxParticipations) {
      throw new PolicyViolation('budget.maxParticipations', `participation ${participations} would exceed the limit of ${this.#maxParticipations}`);
    }
    const rdp = this.#rdpOf(event);
    const after = this.#rdp.slice();
    for (let k = 0; k < after.length; k++) after[k]! += rdp[k]!;
    const epsilon = this.#epsilonOf(after);
    const budget = this.#budget.epsilon;
    if (!(epsilon <= budget)) {
      throw new PolicyViolation('budget.epsilon', `participation ${participations} would take epsilon to ${epsilon} (rdp, delta ${this.#budget.delta}) > budget ${budget}`);
    }
    return { check: { epsilon, budget, remaining: budget - epsilon, participations }, rdp };
  }

  #normalize(req: ParticipationRequest): { event: ParticipationEvent; roundTag: string; coordinator: string; round: number } {
    if (typeof req !== 'object' || req === null) throw new InvalidArgument('expected { event, roundTag, coordinator, round }');
    if (!isUint(req.round, 0)) throw new InvalidArgument(`round: expected an integer >= 0, got ${String(req.round)}`);
    return { event: participationEvent('event', req.event), roundTag: hexId('roundTag', req.roundTag), coordinator: hexId('coordinator', req.coordinator), round: req.round };
  }

  /**
   * May the client take part? Call BEFORE touching any data. Throws
   * PolicyViolation 'replay' (tag already recorded, or round not above the
   * last one for this coordinator), 'budget.maxParticipations' or
   * 'budget.epsilon' (epsilon after this participation over the budget; an
   * unbounded epsilon counts as over). Returns what would remain.
   */
  check(req: ParticipationRequest): ParticipationCheck {
    if (this.#broken !== undefined) throw new LedgerIntegrityError('the ledger is closed or a previous write failed: reopen it', undefined, { cause: this.#broken });
    const n = this.#normalize(req);
    return this.#checkNormalized(n.event, n.roundTag, n.coordinator, n.round).check;
  }

  /**
   * Record the participation durably; call right before sending the masked
   * input and send only after this resolves. Repeats every check of
   * {@link check} (concurrent calls are serialised) and throws as it does;
   * after a failed write the ledger refuses everything until reopened.
   */
  record(req: ParticipationRequest): Promise<RecordedParticipation> {
    const run = this.#queue.then(() => this.#record(req));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #record(req: ParticipationRequest): Promise<RecordedParticipation> {
    if (this.#broken !== undefined) throw new LedgerIntegrityError('the ledger is closed or a previous write failed: reopen it', undefined, { cause: this.#broken });
    const n = this.#normalize(req);
    const { check, rdp } = this.#checkNormalized(n.event, n.roundTag, n.coordinator, n.round);
    let time = this.#now().toISOString();
    if (time < this.#lastTime) time = this.#lastTime; // times never go backwards in the ledger
    const seq = this.#entries.length + 1;
    const line = sign({ v: 1, seq, round: n.round, coordinator: n.coordinator, roundTag: n.roundTag, event: n.event, time, prevHash: this.#headHash }, CLIENT_LEDGER_SIG_DOMAIN, this.#secretKey);
    try {
      await this.#store.append(line);
    } catch (err) {
      this.#broken = err as Error;
      throw err;
    }
    const hash = lineHash(utf8.encode(line));
    const entry: ClientLedgerEntry = { seq, round: n.round, coordinator: n.coordinator, roundTag: n.roundTag, event: n.event, time };
    this.#apply(entry, rdp, hash);
    if (this.#store.saveHead !== undefined) {
      try {
        await this.#store.saveHead(sign({ v: 1, kind: 'head', participations: seq, headHash: hash }, CLIENT_LEDGER_HEAD_DOMAIN, this.#secretKey));
      } catch (err) {
        // The line is durable (and counted); a stale head only lags, which open() accepts.
        this.#broken = err as Error;
        throw err;
      }
    }
    return { ...check, entry: this.#entries[this.#entries.length - 1]!, headHash: hash };
  }

  /** Wait for pending records and wipe the ledger's copy of the signing key. */
  async close(): Promise<void> {
    await this.#queue;
    this.#secretKey.fill(0);
    this.#broken ??= new InvalidArgument('ledger closed');
  }
}

/** An in-memory store (tests, short-lived clients). `lines` / `head` are live views for inspection. */
export interface MemoryClientLedgerStore extends ClientLedgerStore {
  readonly lines: readonly string[];
  readonly head: string | undefined;
}

/** An in-memory {@link ClientLedgerStore}, optionally starting from given lines and head record. */
export function memoryClientLedgerStore(initial: { lines?: readonly string[]; head?: string } = {}): MemoryClientLedgerStore {
  const lines = [...(initial.lines ?? [])];
  let head = initial.head;
  return {
    get lines() {
      return lines.slice();
    },
    get head() {
      return head;
    },
    load: async () => lines.slice(),
    append: async (line: string) => {
      if (typeof line !== 'string' || line.includes('\n')) throw new InvalidArgument('append: expected one line');
      lines.push(line);
    },
    loadHead: async () => head,
    saveHead: async (h: string) => {
      head = h;
    },
  };
}
