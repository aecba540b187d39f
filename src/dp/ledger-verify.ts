/**
 * Verification of a privacy ledger (format: ledger-format.ts, docs/ledger.md)
 * and epsilon recomputation with independent accountants.
 *
 * What a valid ledger proves, line by line (1-based line numbers):
 * - line 1 is a well-formed, canonical header signed by its public key
 *   (and, when the auditor pins a key, by that key);
 * - every later line is a canonical round record whose prevHash is the
 *   SHA-256 of the previous line's bytes and whose Ed25519 signature
 *   verifies, with round numbers 1, 2, 3, ... - so no line was altered,
 *   inserted, removed, reordered or duplicated, except that whole lines at
 *   the END can be cut off undetectably unless the auditor also knows the
 *   expected head hash or round count (`expectHead`, `expectRounds`);
 * - each round's parameters are consistent with the header and with each
 *   other (survivors >= t, the invariant I6 that noise is calibrated to t;
 *   sampling rate in (0, 1]; the event is the one the parameters imply);
 * - each recorded epsilon is not below what the header's accountant gives
 *   when recomputed here from the recorded events.
 *
 * Pure (no I/O): works on bytes or text, in Node and in browsers.
 */
import { InvalidArgument } from '../errors.js';
import { aint, anumber } from '../util/assert.js';
import { createAccountant } from './accountant.js';
import { validateEvent, type DpEvent } from './events.js';
import {
  ACCOUNTANT_NAMES, LEDGER_FORMAT, LEDGER_MECHANISMS, LEDGER_VERSION, LedgerPartialLine,
  LedgerVerificationError, canonicalJson, isIsoTime, lineHash, parsePublicKey, bytesToLowerHex, verifyLineSignature,
  type AccountantName, type LedgerHeader, type LedgerIssueCode, type LedgerRound, type LedgerRoundParams,
} from './ledger-format.js';

// ---------------------------------------------------------------------------
// Accountants

/** Consecutive identical events merged: composing (event, count) is exact and much faster for PLD. */
export interface EventRun {
  readonly key: string;
  readonly event: DpEvent;
  count: number;
}

export function pushEvent(runs: EventRun[], event: DpEvent): void {
  const key = canonicalJson(event);
  const last = runs[runs.length - 1];
  if (last !== undefined && last.key === key) last.count++;
  else runs.push({ key, event, count: 1 });
}

function errorText(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as Error & { code?: unknown }).code;
    return typeof code === 'string' ? `${code}: ${err.message}` : err.message;
  }
  return String(err);
}

/**
 * Epsilon after composing `runs` with a FRESH accountant `name` at `delta`.
 * The ledger writer and the verifier both use this one procedure, so a
 * ledger written and audited by the same fedveil version agrees exactly.
 * Returns `{ epsilon: null, reason }` when the accountant does not support
 * an event (or fails); `Infinity` when it reports no finite bound.
 */
export function epsilonOfRuns(runs: readonly EventRun[], name: AccountantName, delta: number): { epsilon: number | null; reason?: string } {
  // Accountants are deterministic, so results are memoised by the exact composition (a server
  // re-verifying on restart and an auditor re-running do not pay twice).
  // Only short compositions are memoised: a key is O(distinct runs) long.
  const memoKey = runs.length <= MEMO_MAX_RUNS ? `${name}|${delta}|${runs.map((r) => `${r.count}*${r.key}`).join('|')}` : null;
  const hit = memoKey === null ? undefined : memo.get(memoKey);
  if (hit) return hit;
  let result: { epsilon: number | null; reason?: string };
  try {
    const acc = createAccountant(name);
    for (const r of runs) acc.compose(r.event, r.count);
    const epsilon = acc.epsilon(delta);
    result = typeof epsilon !== 'number' || Number.isNaN(epsilon) ? { epsilon: null, reason: `${name} returned ${String(epsilon)}` } : { epsilon };
  } catch (err) {
    result = { epsilon: null, reason: errorText(err) };
  }
  if (memoKey === null) return result;
  if (memo.size >= MEMO_LIMIT) memo.delete(memo.keys().next().value as string);
  memo.set(memoKey, Object.freeze(result));
  return result;
}

const MEMO_LIMIT = 512;
const MEMO_MAX_RUNS = 16;
const memo = new Map<string, { epsilon: number | null; reason?: string }>();

// ---------------------------------------------------------------------------
// Report types

export interface LedgerIssue {
  /** 1-based line number. */
  readonly line: number;
  readonly round?: number;
  readonly code: LedgerIssueCode;
  readonly kind: 'integrity' | 'consistency';
  readonly message: string;
}

export interface LedgerRoundReport {
  readonly line: number;
  readonly round: number;
  readonly time: string;
  readonly params: LedgerRoundParams;
  readonly event: DpEvent;
  /** The round's participant commitment (hashed identities), when the line has one. */
  readonly participants?: readonly string[];
  /** Epsilon recorded on the line (header accountant, header delta). */
  readonly recordedEpsilon: number;
  /**
   * Epsilon after this round at the audit delta, by accountant: null when
   * not supported (see `unsupported`), absent when not recomputed at this
   * round (PLD is sampled, see VerifyOptions.maxPoints).
   */
  readonly epsilon: Partial<Record<AccountantName, number | null>>;
  readonly unsupported: Partial<Record<AccountantName, string>>;
  /**
   * Budget minus the header accountant's recomputed epsilon at the HEADER's
   * delta (the budget is an (epsilon, delta) pair); negative: exceeded;
   * null if not computed at this round or not computable.
   */
  readonly budgetLeft: number | null;
  /** Codes of the consistency issues of this round (details in the report's `issues`). */
  readonly flags: readonly LedgerIssueCode[];
}

export interface LedgerReport {
  /** No integrity failure and no consistency violation. */
  readonly valid: boolean;
  /** Valid, and the header accountant's final epsilon is within the budget. */
  readonly withinBudget: boolean;
  /** The first issue (lowest line) as a typed error, or null. */
  readonly error: LedgerVerificationError | null;
  readonly issues: readonly LedgerIssue[];
  readonly header: LedgerHeader | null;
  /** Whether the signatures were checked against a key the auditor supplied. */
  readonly keyPinned: boolean;
  /** Delta the table's epsilons are stated at. */
  readonly delta: number;
  readonly budget: number | null;
  readonly accountant: AccountantName | null;
  /** Rounds verified (stops at the first integrity failure). */
  readonly rounds: readonly LedgerRoundReport[];
  /** Epsilon spent after the last verified round: the header's accountant at the header's delta (0 with no rounds; null if not computable). */
  readonly spent: number | null;
  /** Final epsilon by accountant at `delta`. */
  readonly epsilon: Partial<Record<AccountantName, number | null>>;
  /** Complete lines in the input. */
  readonly lines: number;
  /** SHA-256 of the last verified line: publish it to detect truncation later. */
  readonly headHash: string | null;
  readonly warnings: readonly string[];
}

export interface VerifyOptions {
  /** The server's public key (bytes, hex or base64). Without it, the header's own key is trusted. */
  publicKey?: Uint8Array | string;
  /** Delta for the recomputed epsilons (default: the header's). */
  delta?: number;
  /** Accountants to recompute with (default all: rdp, pld, gdp). */
  accountants?: readonly AccountantName[];
  /** Expected hex SHA-256 of the last line (detects lines cut off the end). */
  expectHead?: string;
  /** Expected number of rounds (detects lines cut off the end). */
  expectRounds?: number;
  /**
   * Relative tolerance when comparing a recorded epsilon with the recomputed
   * one (default 1e-6: a recorded value below recomputed * (1 - tol) is a
   * violation). Loosen it to audit ledgers written by another accountant version.
   */
  epsilonTolerance?: number;
  /**
   * The PLD accountant (expensive: one FFT composition per point) is
   * recomputed at most at this many evenly spaced rounds plus the first
   * and the last (default 20); RDP and GDP at every round.
   */
  maxPoints?: number;
}

/** Accountants recomputed only on a grid of rounds (see VerifyOptions.maxPoints). */
const EXPENSIVE: ReadonlySet<AccountantName> = new Set<AccountantName>(['pld']);

// ---------------------------------------------------------------------------
// Shape checks

const HEX64 = /^[0-9a-f]{64}$/;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
const isPos = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v > 0;
const isNonNegInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isPosInt = (v: unknown): v is number => isNonNegInt(v) && v >= 1;
const isProb = (v: unknown): v is number => typeof v === 'number' && v > 0 && v <= 1;

const HEADER_KEYS = new Set(['format', 'version', 'kind', 'created', 'publicKey', 'delta', 'epsilonBudget', 'accountant', 'description', 'params', 'sig']);
const ROUND_KEYS = new Set(['kind', 'round', 'time', 'event', 'params', 'epsilon', 'meta', 'participants', 'prevHash', 'sig']);

/** Why a header object is malformed, or null. */
function headerProblem(h: Record<string, unknown>): string | null {
  if (h.kind !== 'header') return `line 1 is not a header (kind ${JSON.stringify(h.kind ?? null)})`;
  for (const k of Object.keys(h)) if (!HEADER_KEYS.has(k)) return `unknown header field "${k}"`;
  if (h.format !== LEDGER_FORMAT) return `format is not "${LEDGER_FORMAT}"`;
  if (h.version !== LEDGER_VERSION) return `unsupported version ${String(h.version)} (this verifier reads version ${LEDGER_VERSION})`;
  if (h.kind !== 'header') return 'kind is not "header"';
  if (!isIsoTime(h.created)) return 'created is not an ISO 8601 UTC time';
  if (typeof h.publicKey !== 'string' || !HEX64.test(h.publicKey)) return 'publicKey is not 64 lower-case hex characters';
  if (typeof h.delta !== 'number' || !(h.delta > 0 && h.delta < 1)) return 'delta is not in (0, 1)';
  if (!isPos(h.epsilonBudget)) return 'epsilonBudget is not a positive number';
  if (!(ACCOUNTANT_NAMES as readonly unknown[]).includes(h.accountant)) return `accountant is not one of ${ACCOUNTANT_NAMES.join(', ')}`;
  if (h.description !== undefined && typeof h.description !== 'string') return 'description is not a string';
  if (h.params !== undefined && !isObject(h.params)) return 'params is not an object';
  if (typeof h.sig !== 'string') return 'sig is missing';
  return null;
}

/** Why a round object is malformed, or null. */
function roundProblem(r: Record<string, unknown>): string | null {
  for (const k of Object.keys(r)) if (!ROUND_KEYS.has(k)) return `unknown round field "${k}"`;
  if (r.kind !== 'round') return r.kind === 'header' ? 'a second header' : 'kind is not "round"';
  if (!isPosInt(r.round)) return 'round is not an integer >= 1';
  if (!isIsoTime(r.time)) return 'time is not an ISO 8601 UTC time';
  if (typeof r.prevHash !== 'string' || !HEX64.test(r.prevHash)) return 'prevHash is not 64 lower-case hex characters';
  if (!(typeof r.epsilon === 'number' && r.epsilon >= 0) && r.epsilon !== 'Infinity') return 'epsilon is not a number >= 0';
  if (r.meta !== undefined && !isObject(r.meta)) return 'meta is not an object';
  if (r.participants !== undefined) {
    // The participant commitment (participants.ts): sorted distinct hashes, so a set has one spelling.
    if (!Array.isArray(r.participants)) return 'participants is not an array';
    for (let i = 0; i < r.participants.length; i++) {
      const h = r.participants[i] as unknown;
      if (typeof h !== 'string' || !HEX64.test(h)) return `participants[${i}] is not 64 lower-case hex characters`;
      if (i > 0 && !((r.participants[i - 1] as string) < h)) return 'participants are not sorted ascending without duplicates';
    }
  }
  if (!isObject(r.params)) return 'params is not an object';
  try {
    validateEvent(r.event);
  } catch (err) {
    return errorText(err);
  }
  if (typeof r.sig !== 'string') return 'sig is missing';
  return null;
}

// ---------------------------------------------------------------------------
// Consistency of a round's parameters and event

const MECHANISM_EVENT: Record<string, string> = { gaussian: 'gaussian', ddg: 'discrete_gaussian', skellam: 'skellam' };
const REL = 1e-9;
const close = (a: number, b: number, rel = REL): boolean => Math.abs(a - b) <= rel * Math.max(Math.abs(a), Math.abs(b));

/** The noise events (leaves) of an event tree. */
function leaves(e: Record<string, unknown>, out: Record<string, unknown>[] = []): Record<string, unknown>[] {
  if (e.type === 'composed') for (const x of e.events as Record<string, unknown>[]) leaves(x, out);
  else if (isObject(e.event)) leaves(e.event, out);
  else out.push(e);
  return out;
}

/**
 * Every way `params` contradict themselves, the header's declared params,
 * or `event`. Empty when consistent. Codes: PARAMETER_VIOLATION, EVENT_MISMATCH.
 */
export function roundParamProblems(params: Record<string, unknown>, event: Record<string, unknown>, declared?: Record<string, unknown>): Array<{ code: LedgerIssueCode; message: string }> {
  const out: Array<{ code: LedgerIssueCode; message: string }> = [];
  const bad = (message: string): void => void out.push({ code: 'PARAMETER_VIOLATION', message });
  const mismatch = (message: string): void => void out.push({ code: 'EVENT_MISMATCH', message });
  const p = params;
  if (!(LEDGER_MECHANISMS as readonly unknown[]).includes(p.mechanism)) bad(`mechanism ${JSON.stringify(p.mechanism)} is not one of ${LEDGER_MECHANISMS.join(', ')}`);
  if (!isPos(p.clipNorm)) bad('clipNorm is not a positive number');
  if (!isPos(p.noiseMultiplier)) bad('noiseMultiplier is not a positive number');
  if (!isProb(p.samplingRate)) bad(`samplingRate ${String(p.samplingRate)} is not in (0, 1]`);
  if (!isPos(p.expectedClients)) bad('expectedClients is not a positive number');
  if (!isPosInt(p.minClients)) bad('minClients (t) is not an integer >= 1');
  if (!isNonNegInt(p.survivors)) bad('survivors is not an integer >= 0');
  if (!isPosInt(p.dimension)) bad('dimension is not an integer >= 1');
  // I6: noise is calibrated to t contributors; a round completed with fewer carries less noise than recorded.
  if (p.colluders !== undefined && (!isNonNegInt(p.colluders) || (isPosInt(p.minClients) && p.colluders >= p.minClients))) bad(`colluders (g) ${String(p.colluders)} is not an integer in [0, minClients t - 1]`);
  if (isPosInt(p.minClients) && isNonNegInt(p.survivors) && p.survivors < p.minClients) bad(`survivors ${p.survivors} < minClients t = ${p.minClients}: the round carries less noise than accounted (I6)`);
  if (p.mechanism === 'ddg' || p.mechanism === 'skellam') {
    if (!(typeof p.bits === 'number' && Number.isInteger(p.bits) && p.bits >= 1 && p.bits <= 32)) bad(`bits is not an integer in [1, 32] (required for ${p.mechanism})`);
    if (!isPos(p.scale)) bad(`scale is not a positive number (required for ${p.mechanism})`);
    if (p.paddedDimension !== undefined && !(isPosInt(p.paddedDimension) && isPosInt(p.dimension) && p.paddedDimension >= p.dimension)) bad('paddedDimension is not an integer >= dimension');
  }
  if (p.populationSize !== undefined && !isPosInt(p.populationSize)) bad('populationSize is not an integer >= 1');
  for (const [k, v] of Object.entries(p)) {
    if (v !== null && typeof v === 'object') bad(`params.${k} is not a primitive value`);
  }
  if (declared) {
    for (const [k, v] of Object.entries(declared)) {
      if (p[k] === undefined || canonicalJson(p[k]) !== canonicalJson(v)) bad(`params.${k} = ${canonicalJson(p[k] ?? null)} differs from the header's declared ${canonicalJson(v)}`);
    }
  }
  if (out.length > 0) return out;

  // The event the parameters imply: sampling wrapper, then the mechanism's noise event(s).
  const q = p.samplingRate as number;
  let inner: Record<string, unknown> = event;
  if (event.type === 'poisson_sampled') {
    if (!close(event.samplingProbability as number, q)) mismatch(`event samplingProbability ${String(event.samplingProbability)} differs from samplingRate ${q}`);
    inner = event.event as Record<string, unknown>;
  } else if (event.type === 'sampled_without_replacement') {
    const n = event.sourceDatasetSize as number;
    const m = event.sampleSize as number;
    if (!close(m / n, q)) mismatch(`event sampleSize/sourceDatasetSize = ${m}/${n} differs from samplingRate ${q}`);
    if (p.populationSize !== undefined && p.populationSize !== n) mismatch(`event sourceDatasetSize ${n} differs from populationSize ${String(p.populationSize)}`);
    inner = event.event as Record<string, unknown>;
  }
  // An unwrapped event with q < 1 claims no amplification: conservative, not a violation.
  const want = MECHANISM_EVENT[p.mechanism as string];
  let updateEvent = inner;
  if (p.countScale !== undefined) {
    // Adaptive clipping: composed([update, clipped count]); the count is one coordinate of sensitivity k = countScale.
    const parts = inner.type === 'composed' ? (inner.events as Array<Record<string, unknown>> | undefined) : undefined;
    if (!isPosInt(p.countScale) || !parts || parts.length !== 2) {
      mismatch(`params.countScale ${String(p.countScale)} needs a positive integer and an event composed of the update and the clipped count`);
      return out;
    }
    updateEvent = parts[0]!;
    const count = parts[1]!;
    const honest = (p.minClients as number) - ((p.colluders ?? 0) as number);
    if (count.type !== want) mismatch(`count event ${String(count.type)} does not match mechanism ${String(p.mechanism)}`);
    if (count.dimension !== 1) mismatch(`count event dimension ${String(count.dimension)} is not 1`);
    if (typeof count.l2Sensitivity !== 'number' || count.l2Sensitivity < (p.countScale as number) * (1 - REL)) mismatch(`count event l2Sensitivity ${String(count.l2Sensitivity)} is below countScale ${String(p.countScale)}`);
    if (typeof count.clients !== 'number' || count.clients > honest) mismatch(`count event clients ${String(count.clients)} exceeds the honest minimum ${honest} (I6)`);
  }
  for (const leaf of leaves(updateEvent)) {
    if (leaf.type === 'poisson_sampled' || leaf.type === 'sampled_without_replacement') continue;
    if (leaf.type !== want) {
      mismatch(`event ${String(leaf.type)} does not match mechanism ${String(p.mechanism)}`);
      continue;
    }
    if (leaf.type === 'gaussian' && !close(leaf.noiseMultiplier as number, p.noiseMultiplier as number)) {
      mismatch(`event noiseMultiplier ${String(leaf.noiseMultiplier)} differs from noiseMultiplier ${String(p.noiseMultiplier)}`);
    }
    if (leaf.type === 'discrete_gaussian' || leaf.type === 'skellam') {
      // I6: the guaranteed noise contributors are the honest minimum t - g (g colluders, default 0), never the
      // expected count. Counting fewer contributors over-states epsilon (conservative); more is a violation.
      const g = (p.colluders ?? 0) as number;
      const honest = (p.minClients as number) - g;
      if (typeof leaf.clients !== 'number' || leaf.clients > honest) {
        mismatch(`event clients ${String(leaf.clients)} differs from minClients t = ${String(p.minClients)}${g > 0 ? ` minus colluders g = ${g}` : ''} (I6: more noise contributors than guaranteed)`);
      }
      const dim = (p.paddedDimension ?? p.dimension) as number;
      if (leaf.dimension !== dim) mismatch(`event dimension ${String(leaf.dimension)} differs from ${p.paddedDimension !== undefined ? 'paddedDimension' : 'dimension'} ${dim}`);
      const scaledClip = (p.clipNorm as number) * (p.scale as number);
      if ((leaf.l2Sensitivity as number) < scaledClip * (1 - REL)) mismatch(`event l2Sensitivity ${String(leaf.l2Sensitivity)} is below clipNorm * scale = ${scaledClip}`);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------
// Splitting into lines

interface RawLine {
  /** 1-based. */
  readonly n: number;
  readonly bytes: Uint8Array;
}

/** Split on `\n`; a non-empty unterminated tail is reported separately. */
function splitLines(data: Uint8Array): { lines: RawLine[]; partial: LedgerPartialLine | null } {
  const lines: RawLine[] = [];
  let start = 0;
  for (let i = 0; i < data.length; i++) {
    if (data[i] === 0x0a) {
      lines.push({ n: lines.length + 1, bytes: data.subarray(start, i) });
      start = i + 1;
    }
  }
  const partial = start < data.length ? new LedgerPartialLine(lines.length + 1, start, data.length - start) : null;
  return { lines, partial };
}

// ---------------------------------------------------------------------------
// Verification

const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const encoder = new TextEncoder();

/**
 * Parse one line: UTF-8, JSON, an object, canonical bytes. Returns the
 * object or an integrity issue.
 */
function parseLine(raw: RawLine): { obj: Record<string, unknown> } | { code: LedgerIssueCode; message: string } {
  if (raw.bytes.length === 0) return { code: 'EMPTY_LINE', message: 'empty line' };
  let text: string;
  try {
    text = decoder.decode(raw.bytes);
  } catch {
    return { code: 'BAD_ENCODING', message: 'not valid UTF-8' };
  }
  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch (err) {
    return { code: 'BAD_JSON', message: `not JSON (${err instanceof Error ? err.message : String(err)})` };
  }
  if (!isObject(obj)) return { code: 'BAD_JSON', message: 'not a JSON object' };
  let canonical: string;
  try {
    canonical = canonicalJson(obj);
  } catch {
    return { code: 'NON_CANONICAL', message: 'not canonical JSON' };
  }
  if (canonical !== text) return { code: 'NON_CANONICAL', message: 'bytes differ from the canonical JSON of the line (sorted keys, no whitespace, JSON.stringify numbers and strings)' };
  return { obj };
}

/**
 * Verify a ledger given as bytes or text. Never throws for a bad ledger:
 * the report's `error` is a LedgerVerificationError naming the first bad
 * line and why (throws InvalidArgument only for bad options).
 */
export function verifyLedger(input: Uint8Array | string, options: VerifyOptions = {}): LedgerReport {
  const data = typeof input === 'string' ? encoder.encode(input) : input;
  const pinned = options.publicKey !== undefined ? parsePublicKey(options.publicKey) : null;
  if (options.delta !== undefined) anumber('verifyLedger: delta', options.delta, Number.MIN_VALUE, 1 - Number.EPSILON);
  const tol = options.epsilonTolerance ?? 1e-6;
  anumber('verifyLedger: epsilonTolerance', tol, 0, 1);
  const accountants = options.accountants ?? ACCOUNTANT_NAMES;
  for (const a of accountants) if (!(ACCOUNTANT_NAMES as readonly string[]).includes(a)) throw new InvalidArgument(`verifyLedger: unknown accountant ${String(a)}`);

  const issues: LedgerIssue[] = [];
  const warnings: string[] = [];
  const rounds: LedgerRoundReport[] = [];
  const integrity = (line: number, code: LedgerIssueCode, message: string, round?: number): void => {
    issues.push({ line, code, kind: 'integrity', message, ...(round !== undefined ? { round } : {}) });
  };
  const { lines, partial } = splitLines(data);

  let header: LedgerHeader | null = null;
  let headHash: string | null = null;
  let lastTime = '';
  const runs: EventRun[] = [];
  const finalEpsilon: Partial<Record<AccountantName, number | null>> = {};
  let delta = options.delta ?? NaN;
  let overReported = false;
  const totalRounds = Math.max(0, lines.length - 1);
  const maxPoints = options.maxPoints ?? 20;
  aint('verifyLedger: maxPoints', maxPoints, 1);
  const step = Math.max(1, Math.ceil(totalRounds / maxPoints));

  for (const raw of lines) {
    const parsed = parseLine(raw);
    if ('code' in parsed) {
      integrity(raw.n, parsed.code, parsed.message);
      break;
    }
    const obj = parsed.obj;
    if (raw.n === 1) {
      const problem = headerProblem(obj);
      if (problem) {
        integrity(1, 'BAD_HEADER', problem);
        break;
      }
      const h = obj as unknown as LedgerHeader;
      const key = parsePublicKey(h.publicKey);
      if (pinned && bytesToLowerHex(pinned) !== h.publicKey) {
        integrity(1, 'KEY_MISMATCH', `header public key ${h.publicKey} is not the expected ${bytesToLowerHex(pinned)}`);
        break;
      }
      if (!verifyLineSignature(obj, key)) {
        integrity(1, 'BAD_SIGNATURE', 'header signature does not verify');
        break;
      }
      header = h;
      if (Number.isNaN(delta)) delta = h.delta;
      lastTime = h.created;
      headHash = lineHash(raw.bytes);
      continue;
    }
    const hdr = header as LedgerHeader;
    const problem = roundProblem(obj);
    if (problem) {
      integrity(raw.n, 'BAD_RECORD', problem);
      break;
    }
    const r = obj as unknown as LedgerRound;
    if (r.prevHash !== headHash) {
      integrity(raw.n, 'HASH_MISMATCH', 'prevHash is not the SHA-256 of the previous line (a line was altered, removed, inserted or reordered before this one)', r.round);
      break;
    }
    if (!verifyLineSignature(obj, parsePublicKey(hdr.publicKey))) {
      integrity(raw.n, 'BAD_SIGNATURE', 'signature does not verify', r.round);
      break;
    }
    const expectedRound = rounds.length + 1;
    if (r.round !== expectedRound) {
      integrity(raw.n, 'ROUND_SEQUENCE', `round ${r.round} where ${expectedRound} was expected`, r.round);
      break;
    }
    headHash = lineHash(raw.bytes);

    // Consistency: collected, the scan goes on.
    const flags: LedgerIssueCode[] = [];
    const consistency = (code: LedgerIssueCode, message: string): void => {
      flags.push(code);
      issues.push({ line: raw.n, round: r.round, code, kind: 'consistency', message });
    };
    if (r.time < lastTime) consistency('TIME_ORDER', `time ${r.time} is before the previous line's ${lastTime}`);
    lastTime = r.time > lastTime ? r.time : lastTime;
    try {
      for (const p of roundParamProblems(r.params as unknown as Record<string, unknown>, r.event as unknown as Record<string, unknown>, hdr.params as Record<string, unknown> | undefined)) {
        consistency(p.code, p.message);
      }
    } catch (err) {
      // The verifier never throws on a bad ledger: whatever the checks choke on is a violation.
      consistency('PARAMETER_VIOLATION', `parameters cannot be checked: ${errorText(err)}`);
    }
    // One committed identity per masked input received: fewer would hide participations from the count against the coordinator.
    if (r.participants !== undefined && r.participants.length !== r.params.survivors) {
      consistency('PARAMETER_VIOLATION', `participants lists ${r.participants.length} identities, survivors is ${String(r.params.survivors)}`);
    }

    pushEvent(runs, r.event);
    const recorded = r.epsilon === 'Infinity' ? Infinity : r.epsilon;
    const computeNow = (a: AccountantName): boolean => !EXPENSIVE.has(a) || r.round % step === 0 || r.round === 1 || r.round === totalRounds;
    const atHeader = computeNow(hdr.accountant) ? epsilonOfRuns(runs, hdr.accountant, hdr.delta) : null;
    if (atHeader === null) {
      // Not recomputed at this round (sampled accountant); the last round always is.
    } else if (atHeader.epsilon === null) {
      consistency('EPSILON_MISMATCH', `the header's accountant ${hdr.accountant} cannot recompute epsilon: ${atHeader.reason ?? 'unknown reason'}`);
    } else if (recorded < atHeader.epsilon * (1 - tol)) {
      consistency('EPSILON_MISMATCH', `recorded epsilon ${recorded} is below the recomputed ${hdr.accountant} epsilon ${atHeader.epsilon}`);
    } else if (recorded > atHeader.epsilon * (1 + tol) + 1e-12 && !overReported) {
      overReported = true;
      warnings.push(`line ${raw.n}: recorded epsilon ${recorded} exceeds the recomputed ${atHeader.epsilon} (conservative; written by another accountant version?)`);
    }
    const epsilon: Partial<Record<AccountantName, number | null>> = {};
    const unsupported: Partial<Record<AccountantName, string>> = {};
    for (const a of accountants) {
      if (!computeNow(a)) continue;
      const res = a === hdr.accountant && delta === hdr.delta && atHeader ? atHeader : epsilonOfRuns(runs, a, delta);
      epsilon[a] = res.epsilon;
      if (res.epsilon === null) unsupported[a] = res.reason ?? 'not supported';
    }
    // The budget is an (epsilon, delta) pair: it is compared at the header's delta whatever the audit delta.
    const own = atHeader?.epsilon ?? null;
    rounds.push({
      line: raw.n, round: r.round, time: r.time, params: r.params, event: r.event, ...(r.participants !== undefined ? { participants: r.participants } : {}), recordedEpsilon: recorded,
      epsilon, unsupported, budgetLeft: own === null ? null : hdr.epsilonBudget - own, flags,
    });
  }

  // The last verified round always carries every accountant (a scan cut short by an integrity failure may end off the sampling grid).
  const lastRound = rounds[rounds.length - 1];
  if (lastRound && header) {
    const h: LedgerHeader = header;
    for (const a of accountants) {
      if (lastRound.epsilon[a] !== undefined) continue;
      const res = epsilonOfRuns(runs, a, delta);
      lastRound.epsilon[a] = res.epsilon;
      if (res.epsilon === null) lastRound.unsupported[a] = res.reason ?? 'not supported';
    }
    if (lastRound.budgetLeft === null) {
      const own = epsilonOfRuns(runs, h.accountant, h.delta).epsilon;
      rounds[rounds.length - 1] = { ...lastRound, budgetLeft: own === null ? null : h.epsilonBudget - own };
    }
    Object.assign(finalEpsilon, lastRound.epsilon);
  }

  const hasIntegrity = issues.some((i) => i.kind === 'integrity');
  if (!hasIntegrity) {
    if (lines.length === 0 && !partial) integrity(1, 'EMPTY_LEDGER', 'the ledger is empty (no header)');
    else if (partial) integrity(lines.length + 1, 'PARTIAL_LINE', partial.message.replace(/^line \d+: PARTIAL_LINE: /, ''));
    else {
      if (options.expectRounds !== undefined && options.expectRounds !== rounds.length) {
        integrity(lines.length, 'HEAD_MISMATCH', `${rounds.length} rounds where ${options.expectRounds} were expected (lines cut off the end?)`);
      } else if (options.expectHead !== undefined && options.expectHead.toLowerCase() !== headHash) {
        integrity(lines.length, 'HEAD_MISMATCH', `head hash ${String(headHash)} is not the expected ${options.expectHead} (lines cut off the end?)`);
      }
    }
  }
  if (header && lastRound) {
    if (header.accountant === 'gdp') warnings.push('the ledger enforces its budget with GDP-CLT, an approximation that can under-report epsilon; compare the RDP and PLD columns');
    for (const a of accountants) {
      const e = lastRound.epsilon[a];
      if (a !== header.accountant && a !== 'gdp' && typeof e === 'number' && e > header.epsilonBudget) {
        warnings.push(`the ${a} accountant puts the final epsilon at ${e}, over the budget ${header.epsilonBudget} (the ledger's own accountant is ${header.accountant})`);
      }
    }
  }
  if (!pinned && header) warnings.push('no public key supplied: signatures were checked against the header\'s own key, which proves integrity but not authorship');

  issues.sort((a, b) => a.line - b.line || (a.kind === 'integrity' ? -1 : 1));
  const first = issues[0];
  let error: LedgerVerificationError | null = null;
  if (first) error = first.code === 'PARTIAL_LINE' && partial ? partial : new LedgerVerificationError(first.code, first.message, first.line);
  const valid = issues.length === 0;
  const last = rounds[rounds.length - 1];
  const withinBudget = valid && header !== null && (last === undefined || (last.budgetLeft !== null && last.budgetLeft >= -1e-12 * header.epsilonBudget));
  return {
    valid, withinBudget, error, issues, header, keyPinned: pinned !== null,
    delta: Number.isNaN(delta) ? (header?.delta ?? NaN) : delta,
    budget: header?.epsilonBudget ?? null, accountant: header?.accountant ?? null,
    rounds, epsilon: finalEpsilon, lines: lines.length, headHash, warnings,
    spent: header === null ? null : last === undefined ? 0 : last.budgetLeft === null ? null : header.epsilonBudget - last.budgetLeft,
  };
}

/** Like {@link verifyLedger} but throws the first issue (a LedgerVerificationError). */
export function assertLedgerValid(input: Uint8Array | string, options: VerifyOptions = {}): LedgerReport {
  const report = verifyLedger(input, options);
  if (report.error) throw report.error;
  return report;
}

