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
 * Assumptions: one writer per file (a second writer in this or another
 * process is detected before each append by comparing the file size with
 * what this writer last wrote); a POSIX-like filesystem where fsync makes
 * written bytes durable. Node only: `node:fs` is imported lazily so that
 * importing the dp layer in a browser does not pull it in.
 */
import type { FileHandle } from 'node:fs/promises';
import { BudgetExceeded, InvalidArgument } from '../errors.js';
import { anumber, aoneOf, apositive } from '../util/assert.js';
import { ed25519KeyPair, ed25519PublicKey, type Ed25519KeyPair } from '../crypto/index.js';
import type { RandomSource } from '../crypto/random.js';
import { validateEvent, type DpEvent } from './events.js';
import {
  ACCOUNTANT_NAMES, LEDGER_FORMAT, LEDGER_VERSION, LedgerVerificationError, canonicalJson, lowerHexToBytes, lineHash,
  signLine, bytesToLowerHex, type AccountantName, type JsonValue, type LedgerHeader, type LedgerRoundParams,
} from './ledger-format.js';
import { epsilonOfRuns, pushEvent, roundParamProblems, verifyLedger, type EventRun, type LedgerReport, type VerifyOptions } from './ledger-verify.js';

async function fsp(): Promise<typeof import('node:fs/promises')> {
  return import('node:fs/promises');
}

const encoder = new TextEncoder();

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
}

export interface OpenLedgerOptions {
  secretKey: Uint8Array;
  now?: () => Date;
}

export interface AppendRoundInput {
  /** The round's privacy event (what the accountant composes). */
  event: DpEvent;
  /** Every parameter that determines the event. */
  params: LedgerRoundParams;
  /** Free-form signed annotations (e.g. accuracy); plain JSON values. */
  meta?: Record<string, JsonValue>;
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
  #size: number;
  #headHash: string;
  #round: number;
  #lastTime: string;
  #epsilon: number;
  readonly #runs: EventRun[];
  /** Serialises appends from concurrent callers in this process. */
  #queue: Promise<unknown> = Promise.resolve();

  private constructor(init: {
    path: string; header: LedgerHeader; secretKey: Uint8Array; now: () => Date; handle: FileHandle; size: number;
    headHash: string; round: number; lastTime: string; epsilon: number; runs: EventRun[];
  }) {
    this.path = init.path;
    this.header = init.header;
    this.#secretKey = Uint8Array.from(init.secretKey);
    this.#now = init.now;
    this.#handle = init.handle;
    this.#size = init.size;
    this.#headHash = init.headHash;
    this.#round = init.round;
    this.#lastTime = init.lastTime;
    this.#epsilon = init.epsilon;
    this.#runs = init.runs;
  }

  /** Create a new ledger file (fails if `path` exists) and write its signed header. */
  static async create(path: string, options: CreateLedgerOptions): Promise<PrivacyLedger> {
    const publicKey = ed25519PublicKey(options.secretKey);
    anumber('delta', options.delta, Number.MIN_VALUE, 1 - Number.EPSILON);
    apositive('epsilonBudget', options.epsilonBudget);
    const accountant = options.accountant ?? 'rdp';
    aoneOf('accountant', accountant, ACCOUNTANT_NAMES);
    if (options.description !== undefined && typeof options.description !== 'string') throw new InvalidArgument('description: expected a string');
    if (options.params !== undefined) canonicalJson(options.params);
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
    // 'wx': never overwrite an existing ledger.
    const handle = await fs.open(path, 'wx', 0o644);
    try {
      const bytes = encoder.encode(line + '\n');
      await writeAll(handle, bytes);
      await handle.sync();
      await syncDir(path);
      const parsed = JSON.parse(line) as LedgerHeader;
      return new PrivacyLedger({
        path, header: parsed, secretKey: options.secretKey, now, handle, size: bytes.length,
        headHash: lineHash(encoder.encode(line)), round: 0, lastTime: created, epsilon: 0, runs: [],
      });
    } catch (err) {
      await handle.close();
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
    for (const r of report.rounds) pushEvent(runs, r.event);
    const last = report.rounds[report.rounds.length - 1];
    const handle = await fs.open(path, 'a');
    return new PrivacyLedger({
      path, header, secretKey: options.secretKey, now: options.now ?? (() => new Date()), handle, size: data.length,
      headHash: report.headHash as string, round: last?.round ?? 0, lastTime: last?.time ?? header.created,
      epsilon: last?.recordedEpsilon ?? 0, runs,
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
    const { event, params, meta } = input;
    validateEvent(event);
    const problems = roundParamProblems(params as unknown as Record<string, unknown>, event as unknown as Record<string, unknown>, this.header.params as Record<string, unknown> | undefined);
    if (problems.length > 0) throw new InvalidArgument(`ledger: round ${this.#round + 1}: ${problems.map((p) => p.message).join('; ')}`);
    if (meta !== undefined) canonicalJson(meta);
    const epsilon = this.epsilonWith(event);
    let time = this.#now().toISOString();
    // Times never go backwards in a ledger (a clock step back would be flagged by auditors).
    if (time < this.#lastTime) time = this.#lastTime;
    const round = this.#round + 1;
    const record = {
      kind: 'round', round, time, event, params, epsilon: Number.isFinite(epsilon) ? epsilon : 'Infinity',
      ...(meta !== undefined ? { meta } : {}), prevHash: this.#headHash,
    };
    const line = signLine(record, this.#secretKey);
    const bytes = encoder.encode(line + '\n');
    // One writer per file: a size we did not write means someone else appended.
    const { size } = await handle.stat();
    if (size !== this.#size) {
      throw new LedgerVerificationError('HASH_MISMATCH', `the file changed under this writer (size ${size}, expected ${this.#size}): another writer or a partial write; reopen it`);
    }
    await writeAll(handle, bytes);
    await handle.sync();
    this.#size += bytes.length;
    this.#headHash = lineHash(bytes.subarray(0, bytes.length - 1));
    this.#round = round;
    this.#lastTime = time;
    this.#epsilon = epsilon;
    pushEvent(this.#runs, event);
    return { round, epsilon, budget: this.header.epsilonBudget, overBudget: !(epsilon <= this.header.epsilonBudget), headHash: this.#headHash };
  }

  /** Close the file (waits for pending appends). Idempotent. */
  async close(): Promise<void> {
    await this.#queue;
    const h = this.#handle;
    this.#handle = null;
    this.#secretKey.fill(0);
    if (h) await h.close();
  }
}

/** Write all of `bytes`; a short write is continued (a crash in between leaves a detectable partial line). */
async function writeAll(handle: FileHandle, bytes: Uint8Array): Promise<void> {
  let off = 0;
  while (off < bytes.length) {
    const { bytesWritten } = await handle.write(bytes, off, bytes.length - off);
    off += bytesWritten;
  }
}

/** fsync the directory holding `path`, so that a newly created file survives a crash. */
async function syncDir(path: string): Promise<void> {
  const { dirname } = await import('node:path');
  const fs = await fsp();
  try {
    const dir = await fs.open(dirname(path), 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  } catch {
    // Some platforms (Windows) cannot open or fsync a directory; the file itself is fsync'd.
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
