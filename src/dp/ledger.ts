/**
 * The privacy ledger on disk: an append-only, hash-chained, Ed25519-signed
 * JSON Lines file (format: ledger-format.ts and docs/ledger.md), and the
 * budget guard that refuses a round before any client is asked for data.
 *
 * Durability: every line is written with ONE write of `line + "\n"` to a
 * file opened for appending, then fsync'd (and a new file's directory is
 * fsync'd too). A crash can therefore leave at most one unterminated tail,
 * which never validates: opening reports it as {@link LedgerPartialLine}
 * and {@link PrivacyLedger.repair} removes exactly that tail.
 *
 * The ledger is never silently lost. Before each append the writer checks
 * that the path still names the file it holds open (fstat of the open
 * descriptor vs stat of the path: device and inode), that the file has the
 * size it last wrote and that its last line still hashes to the head; after
 * the fsync it checks the path once more. Any difference (the file deleted,
 * replaced, appended to or edited) stops the writer with a
 * {@link LedgerFileError}. A failed write (e.g. ENOSPC) is undone by
 * truncating back to the last complete line and stops the writer with a
 * {@link LedgerWriteError}. Both are sticky: every later append throws the
 * same error, so no round is ever released on an unrecorded cost.
 *
 * Write-ahead: a server appends a round's line BEFORE the round's sum is
 * unmasked (survivors = masked inputs received) and releases the sum only
 * once appendRound resolved; a round that then aborts stays recorded,
 * which over-states the privacy spent, never under-states it.
 *
 * Restart: {@link openLedgerWithKey} refuses to start a fresh ledger (epsilon
 * 0) where a ledger signed by the same key is missing, using a registry of
 * the ledgers each key signed (`<keyFile>.ledgers`), unless `newLedger`.
 *
 * Assumptions: one writer per file; a POSIX-like filesystem where fsync
 * makes written bytes durable. Node only: `node:fs` is imported lazily so
 * that importing the dp layer in a browser does not pull it in.
 */
import type { FileHandle } from 'node:fs/promises';
import { syncDir } from '../util/fs-sync.js';
import { BudgetExceeded, FedveilError, InvalidArgument, LedgerIntegrityError } from '../errors.js';
import { anumber, aoneOf, apositive } from '../util/assert.js';
import { ed25519KeyPair, ed25519PublicKey, type Ed25519KeyPair } from '../crypto/index.js';
import type { RandomSource } from '../crypto/random.js';
import { composedEvent, guaranteeOf, validateEvent, type DpEvent, type Guarantee } from './events.js';
import {
  ACCOUNTANT_NAMES, LEDGER_FORMAT, LEDGER_VERSION, LedgerVerificationError, canonicalJson, lowerHexToBytes, lineHash,
  signLine, bytesToLowerHex, type AccountantName, type JsonValue, type LedgerHeader, type LedgerRoundParams,
} from './ledger-format.js';
import { epsilonOfRuns, pushEvent, roundParamProblems, verifyLedger, type EventRun, type LedgerReport, type VerifyOptions } from './ledger-verify.js';
import { ParticipationTally, participantCommitment, type CoordinatorEpsilon } from './participants.js';

async function fsp(): Promise<typeof import('node:fs/promises')> {
  return import('node:fs/promises');
}

const encoder = new TextEncoder();

/** Why a ledger file cannot be (or can no longer be) written. */
export type LedgerFileProblem =
  /** The path no longer exists (the open file was deleted). */
  | 'LEDGER_REMOVED'
  /** The path names another file than the one this writer holds open. */
  | 'LEDGER_REPLACED'
  /** The open file's size or last line is not what this writer wrote (another writer, an edit). */
  | 'LEDGER_CHANGED'
  /** At start: the ledger is missing although its signing key has signed before. */
  | 'LEDGER_MISSING'
  /** At start: a new ledger was asked for but the file exists (never overwritten). */
  | 'LEDGER_EXISTS'
  /** At start: the ledger exists but its signing key file does not. */
  | 'KEY_MISSING'
  /** At start: the ledger is older than the one this key last recorded (a restored copy). */
  | 'LEDGER_ROLLED_BACK'
  /** At start: the path is not a regular file. */
  | 'NOT_A_FILE';

/**
 * The ledger file is not the one it should be (see {@link LedgerFileProblem}).
 * A LedgerIntegrityError (code `LEDGER_INTEGRITY`) with a stable `reason`.
 */
export class LedgerFileError extends LedgerIntegrityError {
  readonly reason: LedgerFileProblem;
  readonly path: string;
  constructor(reason: LedgerFileProblem, path: string, message: string, options?: { cause?: unknown }) {
    super(`${reason}: ${path}: ${message}`, undefined, options);
    this.reason = reason;
    this.path = path;
  }
}

/**
 * Writing or syncing a ledger line failed (e.g. ENOSPC, EIO): the round's
 * cost is NOT recorded, so its result must not be released. `errno` is the
 * system error code when there is one. Code `LEDGER_WRITE_FAILED`.
 */
export class LedgerWriteError extends FedveilError {
  readonly path: string;
  readonly errno: string | undefined;
  constructor(path: string, message: string, errno?: string, options?: { cause?: unknown }) {
    super('LEDGER_WRITE_FAILED', `${path}: ${message}`, options);
    this.path = path;
    this.errno = errno;
  }
}

/**
 * Writes one complete line (bytes end in `\n`) to the ledger's open file
 * and makes it durable. The default writes all bytes and fsyncs; tests
 * substitute one that fails like a full disk.
 */
export type LedgerLineWriter = (handle: FileHandle, bytes: Uint8Array) => Promise<void>;

async function defaultWriteLine(handle: FileHandle, bytes: Uint8Array): Promise<void> {
  await writeAll(handle, bytes);
  await handle.sync();
}

function errnoOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

export interface CreateLedgerOptions {
  /** The server's Ed25519 secret key (32-byte seed). */
  secretKey: Uint8Array;
  /** The delta every recorded epsilon is stated at. */
  delta: number;
  /** The epsilon budget the guard enforces. */
  epsilonBudget: number;
  /** Accountant whose epsilon each line records (default 'rdp'). */
  accountant?: AccountantName;
  description?: string;
  /** Parameters fixed for the whole run; every round must match them. */
  params?: Partial<LedgerRoundParams>;
  /** Clock (tests). */
  now?: () => Date;
  /** How lines are written and synced (tests: a full disk). */
  writeLine?: LedgerLineWriter;
}

export interface OpenLedgerOptions {
  secretKey: Uint8Array;
  now?: () => Date;
  /** How lines are written and synced (tests: a full disk). */
  writeLine?: LedgerLineWriter;
}

export interface AppendRoundInput {
  /** The round's privacy event (what the accountant composes). */
  event: DpEvent;
  /** Every parameter that determines the event. */
  params: LedgerRoundParams;
  /** Free-form signed annotations (e.g. accuracy); plain JSON values. */
  meta?: Record<string, JsonValue>;
  /**
   * Identities (e.g. Ed25519 public keys) of the clients whose masked inputs
   * were received, one per survivor: recorded as the round's participant
   * commitment (hashes under {@link PrivacyLedger.participantSalt}), so an
   * auditor can bound the epsilon against the coordinator per identity.
   */
  participants?: readonly Uint8Array[];
}

export interface AppendedRound {
  readonly round: number;
  /** Epsilon after this round (header accountant, header delta). */
  readonly epsilon: number;
  readonly budget: number;
  /** Whether this round took the ledger over budget (it is recorded regardless). */
  readonly overBudget: boolean;
  /** SHA-256 of the appended line (the new head). */
  readonly headHash: string;
}

export interface BudgetCheck {
  /** Epsilon if the event were composed now (header accountant, header delta). */
  readonly epsilon: number;
  readonly budget: number;
  /** Budget minus epsilon. */
  readonly remaining: number;
}

export interface RepairResult {
  /** Whether an unterminated tail was removed. */
  readonly truncated: boolean;
  /** Bytes removed. */
  readonly removedBytes: number;
  /** 1-based line number the removed tail would have had. */
  readonly line: number | null;
}

/**
 * An open privacy ledger: append rounds, guard the budget. Create with
 * {@link PrivacyLedger.create} or continue one with {@link PrivacyLedger.open}.
 */
export class PrivacyLedger {
  readonly path: string;
  readonly header: LedgerHeader;
  readonly #secretKey: Uint8Array;
  readonly #now: () => Date;
  #handle: FileHandle | null;
  readonly #writeLine: LedgerLineWriter;
  /** Device and inode of the open file: the path must keep naming it. */
  readonly #dev: number;
  readonly #ino: number;
  #size: number;
  /** Byte offset of the last line (its hash is the head). */
  #lastLineStart: number;
  /** Set by the first integrity or write failure: every later append rethrows it. */
  #failed: FedveilError | null = null;

  #headHash: string;
  #round: number;
  #lastTime: string;
  #epsilon: number;
  readonly #runs: EventRun[];
  /** SHA-256 of the header line: the salt of the participant hashes. */
  readonly #participantSalt: string;
  /** Participations per identity hash (the epsilon against the coordinator). */
  readonly #tally: ParticipationTally;
  /** Serialises appends from concurrent callers in this process. */
  #queue: Promise<unknown> = Promise.resolve();

  private constructor(init: {
    path: string; header: LedgerHeader; secretKey: Uint8Array; now: () => Date; handle: FileHandle; size: number;
    headHash: string; round: number; lastTime: string; epsilon: number; runs: EventRun[];
    writeLine: LedgerLineWriter | undefined; dev: number; ino: number; lastLineStart: number;
    participantSalt: string; tally: ParticipationTally;
  }) {
    this.path = init.path;
    this.header = init.header;
    this.#secretKey = Uint8Array.from(init.secretKey);
    this.#now = init.now;
    this.#handle = init.handle;
    this.#writeLine = init.writeLine ?? defaultWriteLine;
    this.#dev = init.dev;
    this.#ino = init.ino;
    this.#size = init.size;
    this.#lastLineStart = init.lastLineStart;
    this.#headHash = init.headHash;
    this.#round = init.round;
    this.#lastTime = init.lastTime;
    this.#epsilon = init.epsilon;
    this.#runs = init.runs;
    this.#participantSalt = init.participantSalt;
    this.#tally = init.tally;
  }

  /** Create a new ledger file (fails if `path` exists) and write its signed header. */
  static async create(path: string, options: CreateLedgerOptions): Promise<PrivacyLedger> {
    const publicKey = ed25519PublicKey(options.secretKey);
    const accountant = validateCreateOptions(options);
    const now = options.now ?? (() => new Date());
    const created = now().toISOString();
    const header = {
      format: LEDGER_FORMAT, version: LEDGER_VERSION, kind: 'header', created, publicKey: bytesToLowerHex(publicKey),
      delta: options.delta, epsilonBudget: options.epsilonBudget, accountant,
      ...(options.description !== undefined ? { description: options.description } : {}),
      ...(options.params !== undefined ? { params: options.params } : {}),
    } as const;
    const line = signLine(header, options.secretKey);
    const fs = await fsp();
    // 'wx+': never overwrite an existing ledger; readable so that appends can re-check the last line.
    const handle = await fs.open(path, 'wx+', 0o644);
    try {
      const bytes = encoder.encode(line + '\n');
      try {
        await (options.writeLine ?? defaultWriteLine)(handle, bytes);
      } catch (err) {
        throw new LedgerWriteError(path, `writing the header failed: ${err instanceof Error ? err.message : String(err)}`, errnoOf(err), { cause: err });
      }
      await syncDir(path);
      const st = await handle.stat();
      const parsed = JSON.parse(line) as LedgerHeader;
      return new PrivacyLedger({
        path, header: parsed, secretKey: options.secretKey, now, handle, size: bytes.length,
        headHash: lineHash(encoder.encode(line)), round: 0, lastTime: created, epsilon: 0, runs: [],
        writeLine: options.writeLine, dev: st.dev, ino: st.ino, lastLineStart: 0,
        participantSalt: lineHash(encoder.encode(line)), tally: new ParticipationTally(),
      });
    } catch (err) {
      await handle.close();
      // A header that is not fully written is no ledger: leave nothing behind.
      await fs.unlink(path).catch(() => undefined);
      throw err;
    }
  }

  /**
   * Open an existing ledger to continue it (a restarted server): verifies
   * the whole file first (chain, signatures, header key = this secret key's
   * public key), then appends continue the chain from its last line.
   * Throws LedgerPartialLine for an interrupted final write (see
   * {@link PrivacyLedger.repair}) and LedgerVerificationError for any other
   * integrity failure. Consistency findings (e.g. survivors < t in an old
   * round) do not prevent continuing; `verifyLedgerFile` reports them.
   */
  static async open(path: string, options: OpenLedgerOptions): Promise<PrivacyLedger> {
    const publicKey = ed25519PublicKey(options.secretKey);
    const fs = await fsp();
    const data = new Uint8Array(await fs.readFile(path));
    const report = verifyLedger(data, { publicKey, accountants: [] });
    const integrityIssue = report.issues.find((i) => i.kind === 'integrity');
    if (integrityIssue) {
      if (report.error && report.error.line === integrityIssue.line) throw report.error;
      throw new LedgerVerificationError(integrityIssue.code, integrityIssue.message, integrityIssue.line);
    }
    const header = report.header as LedgerHeader;
    const runs: EventRun[] = [];
    const tally = new ParticipationTally();
    for (const r of report.rounds) {
      pushEvent(runs, r.event);
      tally.add(r.event, r.participants);
    }
    const last = report.rounds[report.rounds.length - 1];
    // 'a+': appends, and reads for the per-append check of the last line.
    const handle = await fs.open(path, 'a+');
    const st = await handle.stat();
    if (st.size !== data.length) {
      await handle.close();
      throw new LedgerFileError('LEDGER_CHANGED', path, `the file changed while it was being opened (size ${st.size}, read ${data.length}); another writer?`);
    }
    return new PrivacyLedger({
      path, header, secretKey: options.secretKey, now: options.now ?? (() => new Date()), handle, size: data.length,
      headHash: report.headHash as string, round: last?.round ?? 0, lastTime: last?.time ?? header.created,
      epsilon: last?.recordedEpsilon ?? 0, runs, writeLine: options.writeLine, dev: st.dev, ino: st.ino,
      lastLineStart: data.lastIndexOf(0x0a, data.length - 2) + 1,
      participantSalt: lineHash(data.subarray(0, data.indexOf(0x0a))), tally,
    });
  }

  /**
   * Remove an unterminated final line (an interrupted write) and nothing
   * else. Complete lines are never touched, even invalid ones: an auditor
   * must see those. Returns what was removed.
   */
  static async repair(path: string): Promise<RepairResult> {
    const fs = await fsp();
    const handle = await fs.open(path, 'r+');
    try {
      const { size } = await handle.stat();
      // Scan backwards for the last '\n' in chunks.
      const chunk = 65536;
      let end = size;
      let lastNewline = -1;
      const buf = new Uint8Array(chunk);
      while (end > 0 && lastNewline < 0) {
        const start = Math.max(0, end - chunk);
        const { bytesRead } = await handle.read(buf, 0, end - start, start);
        for (let i = bytesRead - 1; i >= 0; i--) {
          if (buf[i] === 0x0a) {
            lastNewline = start + i;
            break;
          }
        }
        end = start;
      }
      const keep = lastNewline + 1;
      if (keep === size) return { truncated: false, removedBytes: 0, line: null };
      let lines = 0;
      if (keep > 0) {
        const head = new Uint8Array(keep);
        await handle.read(head, 0, keep, 0);
        for (const b of head) if (b === 0x0a) lines++;
      }
      await handle.truncate(keep);
      await handle.sync();
      return { truncated: true, removedBytes: size - keep, line: lines + 1 };
    } finally {
      await handle.close();
    }
  }

  /** Rounds recorded so far. */
  get rounds(): number {
    return this.#round;
  }

  /** Epsilon spent so far (header accountant, header delta). */
  get epsilon(): number {
    return this.#epsilon;
  }

  get budget(): number {
    return this.header.epsilonBudget;
  }

  /** SHA-256 of the last line: publish it so that an auditor can detect lines cut off the end. */
  get headHash(): string {
    return this.#headHash;
  }

  /**
   * Whom {@link epsilon} protects against: 'model-observers' when a recorded
   * event is amplified by sampling (valid only if sampling was done as
   * recorded), else 'coordinator' (a bound for a client in every round);
   * null before the first round.
   */
  get guarantee(): Guarantee | null {
    return this.#runs.length === 0 ? null : guaranteeOf(composedEvent(this.#runs.map((r) => r.event)));
  }

  /** The salt of this ledger's participant hashes: the SHA-256 (hex) of its header line. */
  get participantSalt(): string {
    return this.#participantSalt;
  }

  /**
   * Epsilon against the coordinator (no amplification) for the worst-case
   * and the median identity, from the recorded participant commitments
   * (header accountant, header delta). `population`: clients that could
   * have taken part, so that those never sampled count in the median.
   */
  againstCoordinator(opts: { population?: number } = {}): CoordinatorEpsilon {
    return this.#tally.summary(this.header.accountant, this.header.delta, opts);
  }

  /** Epsilon (header accountant, header delta) after composing `event` with every recorded round. */
  epsilonWith(event: DpEvent): number {
    validateEvent(event);
    const runs = this.#runs.map((r) => ({ ...r }));
    pushEvent(runs, event);
    const res = epsilonOfRuns(runs, this.header.accountant, this.header.delta);
    if (res.epsilon === null) {
      throw new InvalidArgument(`ledger: the ${this.header.accountant} accountant cannot account for this event: ${res.reason ?? 'unsupported'}`);
    }
    return res.epsilon;
  }

  /**
   * The budget guard. Call BEFORE a round asks any client for data: throws
   * BudgetExceeded if composing `event` would take epsilon over the budget
   * (an unbounded epsilon counts as over), else returns what would remain.
   */
  checkBudget(event: DpEvent): BudgetCheck {
    const epsilon = this.epsilonWith(event);
    const budget = this.header.epsilonBudget;
    if (!(epsilon <= budget)) {
      throw new BudgetExceeded(epsilon, budget, `round ${this.#round + 1} would take epsilon to ${epsilon} (${this.header.accountant}, delta ${this.header.delta}) > budget ${budget}; refused before asking any client for data`);
    }
    return { epsilon, budget, remaining: budget - epsilon };
  }

  /**
   * Record a completed round: one signed line chained to the previous one,
   * written with a single write and fsync'd before this resolves.
   *
   * A completed round has spent its privacy whether or not it is written,
   * so it is recorded even if it goes over the budget (`overBudget: true`;
   * `fedveil audit` then exits 3). Call {@link checkBudget} before the
   * round to prevent that. Throws InvalidArgument for parameters that
   * contradict themselves, the header or the event (e.g. survivors < t,
   * I6): the ledger refuses to sign a record an auditor would reject.
   */
  appendRound(input: AppendRoundInput): Promise<AppendedRound> {
    const run = this.#queue.then(() => this.#append(input));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #append(input: AppendRoundInput): Promise<AppendedRound> {
    const handle = this.#handle;
    if (!handle) throw new InvalidArgument('ledger: closed');
    if (this.#failed) throw this.#failed;
    const { event, params, meta } = input;
    validateEvent(event);
    const problems = roundParamProblems(params as unknown as Record<string, unknown>, event as unknown as Record<string, unknown>, this.header.params as Record<string, unknown> | undefined);
    if (problems.length > 0) throw new InvalidArgument(`ledger: round ${this.#round + 1}: ${problems.map((p) => p.message).join('; ')}`);
    const participants = input.participants === undefined ? undefined : participantCommitment(this.#participantSalt, input.participants);
    if (participants !== undefined && participants.length !== params.survivors) {
      throw new InvalidArgument(`ledger: round ${this.#round + 1}: ${participants.length} participants for ${params.survivors} survivors (one identity per masked input received)`);
    }
    if (meta !== undefined) canonicalJson(meta);
    const epsilon = this.epsilonWith(event);
    let time = this.#now().toISOString();
    // Times never go backwards in a ledger (a clock step back would be flagged by auditors).
    if (time < this.#lastTime) time = this.#lastTime;
    const round = this.#round + 1;
    const record = {
      kind: 'round', round, time, event, params, epsilon: Number.isFinite(epsilon) ? epsilon : 'Infinity',
      ...(meta !== undefined ? { meta } : {}), ...(participants !== undefined ? { participants } : {}), prevHash: this.#headHash,
    };
    const line = signLine(record, this.#secretKey);
    const bytes = encoder.encode(line + '\n');
    await this.#checkFile(handle);
    try {
      await this.#writeLine(handle, bytes);
    } catch (err) {
      // Undo a partial line so that the file still ends at the last complete one.
      const undone = await handle.truncate(this.#size).then(() => handle.sync()).then(() => true, () => false);
      throw this.#fail(new LedgerWriteError(
        this.path,
        `round ${round} not recorded: ${err instanceof Error ? err.message : String(err)}${undone ? '' : '; a partial line may remain (fedveil ledger repair removes it)'}`,
        errnoOf(err), { cause: err },
      ));
    }
    // The line went to the file this writer holds: the path must still name it.
    await this.#checkPath();
    this.#lastLineStart = this.#size;
    this.#size += bytes.length;
    this.#headHash = lineHash(bytes.subarray(0, bytes.length - 1));
    this.#round = round;
    this.#lastTime = time;
    this.#epsilon = epsilon;
    pushEvent(this.#runs, event);
    this.#tally.add(event, participants);
    return { round, epsilon, budget: this.header.epsilonBudget, overBudget: !(epsilon <= this.header.epsilonBudget), headHash: this.#headHash };
  }

  #fail<E extends FedveilError>(err: E): E {
    this.#failed ??= err;
    return err;
  }

  /** The path still names the open file (same device and inode) and the file was not deleted. */
  async #checkPath(): Promise<void> {
    const fs = await fsp();
    let st: import('node:fs').Stats;
    try {
      st = await fs.stat(this.path);
    } catch (err) {
      if (errnoOf(err) === 'ENOENT') {
        throw this.#fail(new LedgerFileError('LEDGER_REMOVED', this.path, 'the ledger file was deleted while open; rounds cannot be recorded (restore it from a copy, or restart with a new ledger)', { cause: err }));
      }
      throw this.#fail(new LedgerWriteError(this.path, `cannot stat the ledger: ${err instanceof Error ? err.message : String(err)}`, errnoOf(err), { cause: err }));
    }
    if (st.dev !== this.#dev || st.ino !== this.#ino) {
      throw this.#fail(new LedgerFileError('LEDGER_REPLACED', this.path, 'the path names another file than the open ledger (replaced or moved while open)'));
    }
  }

  /** Before an append: the open file is still at the path, has the size this writer wrote, and ends in the head line. */
  async #checkFile(handle: FileHandle): Promise<void> {
    await this.#checkPath();
    const st = await handle.stat();
    if (st.nlink === 0) throw this.#fail(new LedgerFileError('LEDGER_REMOVED', this.path, 'the ledger file was deleted while open; rounds cannot be recorded (restore it from a copy, or restart with a new ledger)'));
    // One writer per file: a size we did not write means someone else appended or truncated.
    if (st.size !== this.#size) {
      throw this.#fail(new LedgerFileError('LEDGER_CHANGED', this.path, `the file changed under this writer (size ${st.size}, expected ${this.#size}): another writer or an edit`));
    }
    const tail = new Uint8Array(this.#size - this.#lastLineStart);
    const { bytesRead } = await handle.read(tail, 0, tail.length, this.#lastLineStart);
    if (bytesRead !== tail.length || tail[tail.length - 1] !== 0x0a || lineHash(tail.subarray(0, tail.length - 1)) !== this.#headHash) {
      throw this.#fail(new LedgerFileError('LEDGER_CHANGED', this.path, 'the last line is not the one this writer wrote (edited while open)'));
    }
  }

  /** Close the file (waits for pending appends). Idempotent. */
  async close(): Promise<void> {
    await this.#queue;
    const h = this.#handle;
    this.#handle = null;
    this.#secretKey.fill(0);
    if (!h) return;
    await h.close();
    // A clean stop records the head, so that a restart notices an older copy put in its place.
    const registry = registries.get(this);
    if (registry && !this.#failed) {
      await appendRegistry(registry.file, { ledger: registry.ledger, headerHash: registry.headerHash, rounds: this.#round, headHash: this.#headHash, time: this.#now().toISOString() });
    }
  }
}

/** Ledgers opened by openLedgerWithKey: where close() records their head. */
const registries = new WeakMap<PrivacyLedger, { file: string; ledger: string; headerHash: string }>();

function validateCreateOptions(options: Omit<CreateLedgerOptions, 'secretKey'>): AccountantName {
  anumber('delta', options.delta, Number.MIN_VALUE, 1 - Number.EPSILON);
  apositive('epsilonBudget', options.epsilonBudget);
  const accountant = options.accountant ?? 'rdp';
  aoneOf('accountant', accountant, ACCOUNTANT_NAMES);
  if (options.description !== undefined && typeof options.description !== 'string') throw new InvalidArgument('description: expected a string');
  if (options.params !== undefined) canonicalJson(options.params);
  return accountant;
}

/** Write all of `bytes`; a short write is continued (a crash in between leaves a detectable partial line). */
async function writeAll(handle: FileHandle, bytes: Uint8Array): Promise<void> {
  let off = 0;
  while (off < bytes.length) {
    const { bytesWritten } = await handle.write(bytes, off, bytes.length - off);
    off += bytesWritten;
  }
}


/** Verify a ledger file (see {@link verifyLedger}); I/O errors propagate as Node errors. */
export async function verifyLedgerFile(path: string, options: VerifyOptions = {}): Promise<LedgerReport> {
  const fs = await fsp();
  return verifyLedger(new Uint8Array(await fs.readFile(path)), options);
}

// ---------------------------------------------------------------------------
// Key files

export const LEDGER_KEY_TYPE = 'fedveil-ledger-key';

/** A fresh server signing key pair (I7: from the CSPRNG unless an rng is given for tests). */
export function generateLedgerKey(rng?: RandomSource): Ed25519KeyPair {
  return ed25519KeyPair(rng);
}

/**
 * Save a secret key as JSON `{"type":"fedveil-ledger-key","algorithm":"ed25519","secretKey":hex,"publicKey":hex}`
 * with permissions 0600. Never overwrites an existing file.
 */
export async function saveLedgerKey(path: string, secretKey: Uint8Array): Promise<void> {
  const publicKey = ed25519PublicKey(secretKey);
  const fs = await fsp();
  const text = JSON.stringify({ type: LEDGER_KEY_TYPE, algorithm: 'ed25519', secretKey: bytesToLowerHex(secretKey), publicKey: bytesToLowerHex(publicKey) }, null, 2) + '\n';
  const handle = await fs.open(path, 'wx', 0o600);
  try {
    await handle.chmod(0o600);
    await writeAll(handle, encoder.encode(text));
    await handle.sync();
  } finally {
    await handle.close();
  }
  await syncDir(path);
}

export interface LoadLedgerKeyOptions {
  /** Accept a key file readable by group or others (refused by default, like ssh). */
  allowInsecurePermissions?: boolean;
}

/**
 * Load a secret key saved by {@link saveLedgerKey}, or a raw 32-byte seed
 * file, or a file holding the seed as 64 hex characters. Refuses a file
 * readable by group/others on POSIX unless allowed.
 */
export async function loadLedgerKey(path: string, options: LoadLedgerKeyOptions = {}): Promise<Ed25519KeyPair> {
  const fs = await fsp();
  const st = await fs.stat(path);
  if (process.platform !== 'win32' && (st.mode & 0o077) !== 0 && !options.allowInsecurePermissions) {
    throw new InvalidArgument(`ledger key ${path} is accessible by group or others (mode ${(st.mode & 0o777).toString(8)}): chmod 600 it`);
  }
  const data = new Uint8Array(await fs.readFile(path));
  let secretKey: Uint8Array;
  if (data.length === 32) {
    secretKey = data;
  } else {
    const text = new TextDecoder().decode(data).trim();
    if (/^[0-9a-fA-F]{64}$/.test(text)) {
      secretKey = lowerHexToBytes('secretKey', text.toLowerCase(), 32);
    } else {
      let obj: unknown;
      try {
        obj = JSON.parse(text);
      } catch {
        throw new InvalidArgument(`ledger key ${path}: not a key file (JSON, 32 raw bytes or 64 hex characters)`);
      }
      const o = obj as { type?: unknown; algorithm?: unknown; secretKey?: unknown; publicKey?: unknown };
      if (o.type !== LEDGER_KEY_TYPE || o.algorithm !== 'ed25519' || typeof o.secretKey !== 'string') {
        throw new InvalidArgument(`ledger key ${path}: expected {"type":"${LEDGER_KEY_TYPE}","algorithm":"ed25519","secretKey":...}`);
      }
      secretKey = lowerHexToBytes('secretKey', o.secretKey, 32);
      if (o.publicKey !== undefined && o.publicKey !== bytesToLowerHex(ed25519PublicKey(secretKey))) {
        throw new InvalidArgument(`ledger key ${path}: publicKey does not match secretKey`);
      }
    }
  }
  return { secretKey, publicKey: ed25519PublicKey(secretKey) };
}

// ---------------------------------------------------------------------------
// Opening a server's ledger with its key file, refusing a silent restart

/**
 * One entry of a key's registry (`<keyFile>.ledgers`, JSON Lines, 0600):
 * a ledger this key signed, by absolute path and header hash; written when
 * the ledger is created (rounds 0) and again on each clean close.
 */
export interface LedgerRegistryEntry {
  readonly ledger: string;
  readonly headerHash: string;
  readonly rounds: number;
  readonly headHash: string;
  readonly time: string;
}

/** The registry file of a key file. */
export function ledgerRegistryPath(keyFile: string): string {
  return `${keyFile}.ledgers`;
}

/** The ledgers a key file has signed (empty when it never signed one). Unparseable lines are skipped. */
export async function readLedgerRegistry(keyFile: string): Promise<LedgerRegistryEntry[]> {
  const fs = await fsp();
  let text: string;
  try {
    text = await fs.readFile(ledgerRegistryPath(keyFile), 'utf8');
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return [];
    throw err;
  }
  const out: LedgerRegistryEntry[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      const o = JSON.parse(line) as Partial<LedgerRegistryEntry>;
      if (typeof o.ledger === 'string' && typeof o.headerHash === 'string' && typeof o.rounds === 'number' && typeof o.headHash === 'string') out.push(o as LedgerRegistryEntry);
    } catch {
      // a torn last entry (crash while writing it): the previous entries still count
    }
  }
  return out;
}

async function appendRegistry(file: string, entry: LedgerRegistryEntry): Promise<void> {
  const fs = await fsp();
  const handle = await fs.open(file, 'a', 0o600);
  try {
    await writeAll(handle, encoder.encode(JSON.stringify(entry) + '\n'));
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function absolute(p: string): Promise<string> {
  const { resolve } = await import('node:path');
  return resolve(p);
}

export interface OpenLedgerWithKeyOptions extends Omit<CreateLedgerOptions, 'secretKey'> {
  /** The signing key file; created (0600) with a fresh key when neither it nor the ledger exists. */
  keyFile: string;
  /**
   * Start a new ledger although the key has signed one before (the missing
   * ledger's budget is NOT carried over: the operator takes responsibility).
   * Without it a missing ledger next to its key, or a key that has signed
   * before, is refused with LedgerFileError `LEDGER_MISSING`.
   */
  newLedger?: boolean;
  allowInsecurePermissions?: boolean;
}

export interface OpenedLedger {
  readonly ledger: PrivacyLedger;
  /** Whether the ledger file was created now (else continued). */
  readonly created: boolean;
  /** Whether the key file was created now. */
  readonly keyCreated: boolean;
  /** Hex Ed25519 public key of the ledger (give it to auditors). */
  readonly publicKey: string;
}

/**
 * Continue the ledger at `path` with the key in `keyFile`, or create both.
 * Never leaves a file behind when it fails, and never silently restarts a
 * budget:
 * - ledger exists: it must be a regular file, the key file must exist, and
 *   the ledger must verify under that key (PrivacyLedger.open) and must not
 *   be older than what the key last recorded for it (`LEDGER_ROLLED_BACK`);
 *   with `newLedger` it is refused (`LEDGER_EXISTS`: never overwritten);
 * - ledger missing, key exists: refused (`LEDGER_MISSING`) when the key has
 *   signed a ledger before or lives in the ledger's directory, unless
 *   `newLedger`;
 * - neither exists: a fresh key (0600) and a new ledger.
 * Every ledger created is recorded in the key's registry (`<keyFile>.ledgers`).
 */
export async function openLedgerWithKey(path: string, options: OpenLedgerWithKeyOptions): Promise<OpenedLedger> {
  const { keyFile, newLedger = false, allowInsecurePermissions, ...createOptions } = options;
  validateCreateOptions(createOptions);
  const fs = await fsp();
  const { dirname, resolve } = await import('node:path');
  const statOrNull = async (p: string): Promise<import('node:fs').Stats | null> => fs.stat(p).catch((err: unknown) => {
    if (errnoOf(err) === 'ENOENT') return null;
    throw err;
  });
  const ledgerStat = await statOrNull(path);
  const keyStat = await statOrNull(keyFile);
  if (ledgerStat && !ledgerStat.isFile()) throw new LedgerFileError('NOT_A_FILE', path, 'the ledger path exists but is not a regular file');
  if (keyStat && !keyStat.isFile()) throw new LedgerFileError('NOT_A_FILE', keyFile, 'the key path exists but is not a regular file');
  const abs = resolve(path);

  if (ledgerStat) {
    if (newLedger) throw new LedgerFileError('LEDGER_EXISTS', path, 'a new ledger was asked for, but the file exists (a ledger is never overwritten: move it away, or continue it without --new-ledger)');
    if (!keyStat) throw new LedgerFileError('KEY_MISSING', path, `the ledger exists but its signing key ${keyFile} does not: it cannot be continued (give the key that signed it)`);
    const { secretKey, publicKey } = await loadLedgerKey(keyFile, { allowInsecurePermissions });
    const ledger = await PrivacyLedger.open(path, { secretKey, ...(createOptions.now ? { now: createOptions.now } : {}), ...(createOptions.writeLine ? { writeLine: createOptions.writeLine } : {}) });
    secretKey.fill(0);
    try {
      const headerHash = await headerHashOf(path);
      const entries = (await readLedgerRegistry(keyFile)).filter((e) => e.headerHash === headerHash);
      const latest = entries.reduce<LedgerRegistryEntry | null>((m, e) => (m === null || e.rounds >= m.rounds ? e : m), null);
      if (latest && (latest.rounds > ledger.rounds || (latest.rounds === ledger.rounds && latest.headHash !== ledger.headHash))) {
        throw new LedgerFileError('LEDGER_ROLLED_BACK', path, `the ledger has ${ledger.rounds} rounds, but this key recorded ${latest.rounds} rounds with head ${latest.headHash} at ${latest.time}: an older copy was put in its place`);
      }
      if (entries.length === 0) await appendRegistry(ledgerRegistryPath(keyFile), { ledger: abs, headerHash, rounds: ledger.rounds, headHash: ledger.headHash, time: new Date().toISOString() });
      registries.set(ledger, { file: ledgerRegistryPath(keyFile), ledger: abs, headerHash });
    } catch (err) {
      await ledger.close();
      throw err;
    }
    return { ledger, created: false, keyCreated: false, publicKey: bytesToLowerHex(publicKey) };
  }

  let secretKey: Uint8Array;
  let keyCreated = false;
  if (keyStat) {
    secretKey = (await loadLedgerKey(keyFile, { allowInsecurePermissions })).secretKey;
    const signed = await readLedgerRegistry(keyFile);
    const nextToIt = dirname(resolve(keyFile)) === dirname(abs);
    if (!newLedger && (signed.length > 0 || nextToIt)) {
      const last = signed[signed.length - 1];
      secretKey.fill(0);
      throw new LedgerFileError('LEDGER_MISSING', path, `the ledger is missing but its signing key ${keyFile} exists${last ? ` and has signed ${new Set(signed.map((e) => e.headerHash)).size} ledger(s), last ${last.ledger} (${last.rounds} rounds at ${last.time})` : ' next to it'}: starting over would reset the spent budget to 0. Restore the ledger, or start a new one deliberately (--new-ledger)`);
    }
  } else {
    secretKey = generateLedgerKey().secretKey;
  }
  const publicKey = bytesToLowerHex(ed25519PublicKey(secretKey));
  const registryFile = ledgerRegistryPath(keyFile);
  const registryExisted = (await statOrNull(registryFile)) !== null;
  let ledger: PrivacyLedger | undefined;
  try {
    if (!keyStat) {
      await saveLedgerKey(keyFile, secretKey);
      keyCreated = true;
    }
    ledger = await PrivacyLedger.create(path, { ...createOptions, secretKey });
    const headerHash = ledger.headHash;
    await appendRegistry(registryFile, { ledger: abs, headerHash, rounds: 0, headHash: headerHash, time: ledger.header.created });
    registries.set(ledger, { file: registryFile, ledger: abs, headerHash });
  } catch (err) {
    // A failed start leaves no files behind.
    if (ledger) {
      await ledger.close().catch(() => undefined);
      await fs.unlink(path).catch(() => undefined);
    }
    if (keyCreated) await fs.unlink(keyFile).catch(() => undefined);
    if (!registryExisted) await fs.unlink(registryFile).catch(() => undefined);
    throw err;
  } finally {
    secretKey.fill(0);
  }
  return { ledger, created: true, keyCreated, publicKey };
}

/** SHA-256 of a ledger's first line (its header): the ledger's identity in a key's registry. */
export async function headerHashOf(path: string): Promise<string> {
  const fs = await fsp();
  const handle = await fs.open(path, 'r');
  try {
    const chunks: Uint8Array[] = [];
    const buf = new Uint8Array(4096);
    for (let pos = 0; ; ) {
      const { bytesRead } = await handle.read(buf, 0, buf.length, pos);
      if (bytesRead === 0) break;
      const nl = buf.subarray(0, bytesRead).indexOf(0x0a);
      if (nl >= 0) {
        chunks.push(buf.slice(0, nl));
        break;
      }
      chunks.push(buf.slice(0, bytesRead));
      pos += bytesRead;
    }
    const total = chunks.reduce((n, c) => n + c.length, 0);
    const line = new Uint8Array(total);
    let off = 0;
    for (const c of chunks) {
      line.set(c, off);
      off += c.length;
    }
    return lineHash(line);
  } finally {
    await handle.close();
  }
}
