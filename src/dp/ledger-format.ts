/**
 * The privacy ledger's line format, version 1 (docs/ledger.md is the spec).
 *
 * A ledger is UTF-8 JSON Lines. Line 1 is a header; every further line is
 * one completed round. Each line:
 *
 * - is the **canonical JSON** of its object, the JSON Canonicalization
 *   Scheme of RFC 8785 (JCS: keys sorted by UTF-16 code units at every
 *   depth, no whitespace, strings and numbers exactly as ECMAScript
 *   `JSON.stringify` writes them, no non-finite numbers, no lone
 *   surrogates), ended by a single `\n`. A verifier re-serialises every parsed line and
 *   rejects any line whose bytes differ, so no byte of a line can change
 *   without changing its parsed content (e.g. `1e-5` -> `1E-5`, upper-case
 *   hex, an escaped letter, a duplicated key or a `\r` are all rejected);
 * - carries `sig` = hex Ed25519 signature (RFC 8032) by the server key in
 *   the header, over `SIG_DOMAIN || canonical JSON of the line without its
 *   sig field` (the header is signed the same way);
 * - if it is a round, carries `prevHash` = hex SHA-256 (FIPS 180-4) of the
 *   previous line's exact bytes, without its `\n` terminator.
 *
 * This module is pure (no I/O, browser-safe): building and signing lines,
 * parsing them, and the typed errors. File handling lives in ledger.ts,
 * verification in ledger-verify.ts.
 *
 * Assumption: the signing key is the server's long-term Ed25519 key and an
 * auditor obtains its public key out of band (the header's copy only proves
 * that the ledger is self-consistent, not who wrote it).
 */
import { LedgerIntegrityError, InvalidArgument } from '../errors.js';
import { sha256, ed25519Sign, ed25519Verify } from '../crypto/index.js';
import { bytesToHex, hexToBytes } from '../util/hex.js';
import type { AccountantKind } from './accountant.js';
import type { DpEvent } from './events.js';

export const LEDGER_FORMAT = 'fedveil-ledger';
export const LEDGER_VERSION = 1;
/** Domain separation for line signatures: no other fedveil signature verifies as a ledger line. */
export const SIG_DOMAIN = 'fedveil/v1/ledger-line\n';

export type AccountantName = AccountantKind;
export const ACCOUNTANT_NAMES: readonly AccountantName[] = Object.freeze(['rdp', 'pld', 'gdp'] as const);

/** How a round's update was privatized: central Gaussian, distributed discrete Gaussian, Skellam. */
export type LedgerMechanism = 'gaussian' | 'ddg' | 'skellam';
export const LEDGER_MECHANISMS: readonly LedgerMechanism[] = Object.freeze(['gaussian', 'ddg', 'skellam'] as const);

/** A JSON value as it can appear in a ledger line. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/**
 * Every parameter that determines a round's privacy event. Unknown extra
 * keys with primitive values are allowed (and signed) for forward
 * compatibility.
 */
export interface LedgerRoundParams {
  readonly mechanism: LedgerMechanism;
  /** L2 clip norm C of each client update. */
  readonly clipNorm: number;
  /** Central noise multiplier z: the sum carries noise of std z*C (in unscaled units). */
  readonly noiseMultiplier: number;
  /** Client sampling rate q in (0, 1]. */
  readonly samplingRate: number;
  /** Expected number of sampled clients per round. */
  readonly expectedClients: number;
  /** Minimum number of clients t for a round to complete; noise is calibrated to t - colluders (I6). */
  readonly minClients: number;
  /** Colluders g the noise calibration tolerates (ddg/skellam): the event counts t - g contributors (default 0). */
  readonly colluders?: number;
  /** Clients whose update is in this round's sum. */
  readonly survivors: number;
  /** Model update length d. */
  readonly dimension: number;
  /** Length after the randomized Hadamard rotation (ddg/skellam). */
  readonly paddedDimension?: number;
  /** Modulus bit width b (ddg/skellam). */
  readonly bits?: number;
  /** Scale s applied before integer rounding (ddg/skellam). */
  readonly scale?: number;
  /** Population size N (sampled_without_replacement). */
  readonly populationSize?: number;
  /**
   * Adaptive clipping: the integer scale k of the clipped-count coordinate
   * (its sensitivity in integer units). The round's event is then
   * composed([update event, count event]).
   */
  readonly countScale?: number;
  readonly [extra: string]: JsonValue | undefined;
}

export interface LedgerHeader {
  readonly format: typeof LEDGER_FORMAT;
  readonly version: typeof LEDGER_VERSION;
  readonly kind: 'header';
  /** ISO 8601 UTC time (Date#toISOString). */
  readonly created: string;
  /** Hex Ed25519 public key (32 bytes) of the server. */
  readonly publicKey: string;
  /** The delta every epsilon in this ledger is stated at. */
  readonly delta: number;
  /** The epsilon budget the guard enforces. */
  readonly epsilonBudget: number;
  /** The accountant whose epsilon each round line records. */
  readonly accountant: AccountantName;
  readonly description?: string;
  /** Parameters declared constant for the whole run: every round must match them. */
  readonly params?: Partial<LedgerRoundParams>;
  readonly sig: string;
}

export interface LedgerRound {
  readonly kind: 'round';
  /** 1, 2, 3, ... without gaps. */
  readonly round: number;
  /** ISO 8601 UTC time the round completed. */
  readonly time: string;
  readonly event: DpEvent;
  readonly params: LedgerRoundParams;
  /** Epsilon spent after this round (header accountant, header delta); "Infinity" when unbounded. */
  readonly epsilon: number | 'Infinity';
  /** Free-form signed annotations (e.g. test accuracy). */
  readonly meta?: { readonly [key: string]: JsonValue };
  /**
   * Commitment to the round's participants (optional; older lines have none):
   * the sorted, distinct hex SHA-256 hashes of their identities under the
   * ledger's salt (participants.ts). One per client whose masked input was
   * received, so its length equals `params.survivors`.
   */
  readonly participants?: readonly string[];
  /** Hex SHA-256 of the previous line's bytes. */
  readonly prevHash: string;
  readonly sig: string;
}

export type LedgerLine = LedgerHeader | LedgerRound;

/**
 * Stable reasons a ledger fails verification. Integrity reasons stop the
 * scan (nothing after a broken link can be trusted); consistency reasons
 * are collected for every round.
 */
export type LedgerIssueCode =
  | 'PARTIAL_LINE'
  | 'EMPTY_LINE'
  | 'BAD_ENCODING'
  | 'BAD_JSON'
  | 'NON_CANONICAL'
  | 'BAD_HEADER'
  | 'BAD_RECORD'
  | 'KEY_MISMATCH'
  | 'BAD_SIGNATURE'
  | 'HASH_MISMATCH'
  | 'ROUND_SEQUENCE'
  | 'HEAD_MISMATCH'
  | 'EMPTY_LEDGER'
  | 'PARAMETER_VIOLATION'
  | 'EVENT_MISMATCH'
  | 'EPSILON_MISMATCH'
  | 'TIME_ORDER';

export const INTEGRITY_CODES: ReadonlySet<LedgerIssueCode> = new Set<LedgerIssueCode>([
  'PARTIAL_LINE', 'EMPTY_LINE', 'BAD_ENCODING', 'BAD_JSON', 'NON_CANONICAL', 'BAD_HEADER', 'BAD_RECORD',
  'KEY_MISMATCH', 'BAD_SIGNATURE', 'HASH_MISMATCH', 'ROUND_SEQUENCE', 'HEAD_MISMATCH', 'EMPTY_LEDGER',
]);

/** A ledger failed verification; `line` is the 1-based first bad line and `reason` a stable code. */
export class LedgerVerificationError extends LedgerIntegrityError {
  readonly reason: LedgerIssueCode;
  constructor(reason: LedgerIssueCode, message: string, line?: number, options?: { cause?: unknown }) {
    super(`${reason}: ${message}`, line, options);
    this.reason = reason;
  }
}

/**
 * The file ends in bytes without a `\n`: a write was interrupted. Nothing
 * in that tail is trusted; `PrivacyLedger.repair` removes exactly it.
 */
export class LedgerPartialLine extends LedgerVerificationError {
  /** Byte offset where the unterminated tail starts. */
  readonly offset: number;
  /** Length of the unterminated tail in bytes. */
  readonly length: number;
  constructor(line: number, offset: number, length: number) {
    super('PARTIAL_LINE', `unterminated final line (${length} bytes at offset ${offset}): an interrupted write; repair truncates it`, line);
    this.offset = offset;
    this.length = length;
  }
}

// ---------------------------------------------------------------------------
// Canonical JSON

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

function canonicalInto(v: unknown, out: string[], path: string): void {
  if (v === null || typeof v === 'boolean') {
    out.push(String(v));
  } else if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new InvalidArgument(`ledger: ${path} is ${v}; JSON has no non-finite numbers`);
    out.push(JSON.stringify(v));
  } else if (typeof v === 'string') {
    out.push(jcsString(v, path));
  } else if (Array.isArray(v)) {
    out.push('[');
    v.forEach((x, i) => {
      if (i > 0) out.push(',');
      canonicalInto(x, out, `${path}[${i}]`);
    });
    out.push(']');
  } else if (isPlainObject(v)) {
    const obj = v;
    // Default sort compares UTF-16 code units: the order is the same in every JS engine.
    const keys = Object.keys(obj).filter((k) => obj[k] !== undefined).sort();
    out.push('{');
    keys.forEach((k, i) => {
      if (i > 0) out.push(',');
      out.push(jcsString(k, `${path} key`), ':');
      canonicalInto(obj[k], out, `${path}.${k}`);
    });
    out.push('}');
  } else {
    throw new InvalidArgument(`ledger: ${path} is a ${typeof v === 'object' ? (v as object).constructor?.name ?? 'object' : typeof v}; only plain JSON values can be recorded`);
  }
}

// I-JSON (RFC 7493), which JCS requires: strings are Unicode, so a lone
// surrogate (which JSON.stringify would escape as \udXXX) is refused.
const LONE_SURROGATE = /\p{Surrogate}/u;

function jcsString(s: string, path: string): string {
  if (LONE_SURROGATE.test(s)) throw new InvalidArgument(`ledger: ${path} has a lone surrogate; JSON strings must be valid Unicode`);
  return JSON.stringify(s);
}

/**
 * Canonical JSON per RFC 8785, the JSON Canonicalization Scheme (JCS):
 * object members sorted by the UTF-16 code units of their names at every
 * depth, no whitespace, strings and numbers serialised as ECMAScript does
 * (`JSON.stringify`: shortest round-trip numbers, `-0` as `0`, only `"`,
 * `\\` and control characters escaped). The input must be I-JSON: non-finite
 * numbers, lone surrogates and non-plain objects throw InvalidArgument.
 * One extension for JavaScript callers: `undefined` object members are
 * omitted. test/dp/jcs.test.ts checks the RFC's examples and its Appendix B
 * number table.
 */
export function canonicalJson(value: unknown): string {
  const out: string[] = [];
  canonicalInto(value, out, '$');
  return out.join('');
}

// ---------------------------------------------------------------------------
// Hex, hashing, signing

const HEX = /^[0-9a-f]*$/;

/** Lower-case hex (src/util/hex.ts). */
export const bytesToLowerHex = bytesToHex;

/** Lower-case hex only (upper case would give two spellings of one key). */
export function lowerHexToBytes(name: string, hex: string, length?: number): Uint8Array {
  if (typeof hex !== 'string' || hex.length % 2 !== 0 || !HEX.test(hex)) throw new InvalidArgument(`${name}: expected lower-case hex`);
  const out = hexToBytes(hex, name);
  if (length !== undefined && out.length !== length) throw new InvalidArgument(`${name}: expected ${length} bytes, got ${out.length}`);
  return out;
}

/** A public key given as bytes, lower/upper-case hex or base64 (32 bytes). */
export function parsePublicKey(key: Uint8Array | string): Uint8Array {
  if (key instanceof Uint8Array) {
    if (key.length !== 32) throw new InvalidArgument(`publicKey: expected 32 bytes, got ${key.length}`);
    return key;
  }
  const s = key.trim();
  if (/^[0-9a-fA-F]{64}$/.test(s)) return lowerHexToBytes('publicKey', s.toLowerCase(), 32);
  if (/^[A-Za-z0-9+/_-]{43}=?$/.test(s)) {
    const b64 = s.replace(/-/g, '+').replace(/_/g, '/');
    const bin = atob(b64.endsWith('=') ? b64 : b64 + '=');
    const out = Uint8Array.from(bin, (c) => c.charCodeAt(0));
    if (out.length === 32) return out;
  }
  throw new InvalidArgument('publicKey: expected 32 bytes as 64 hex characters or base64');
}

const utf8 = new TextEncoder();

/** Hex SHA-256 of a line's bytes (without the `\n`): the next line's prevHash. */
export function lineHash(lineBytes: Uint8Array): string {
  return bytesToLowerHex(sha256(lineBytes));
}

/** The exact bytes a line's signature covers. */
export function signedBytes(lineWithoutSig: Record<string, unknown>): Uint8Array {
  return utf8.encode(SIG_DOMAIN + canonicalJson(lineWithoutSig));
}

/** Sign a line object (without `sig`) and return its canonical text, without `\n`. */
export function signLine(line: Record<string, unknown>, secretKey: Uint8Array): string {
  if ('sig' in line) throw new InvalidArgument('signLine: the line already has a sig');
  const sig = bytesToLowerHex(ed25519Sign(secretKey, signedBytes(line)));
  return canonicalJson({ ...line, sig });
}

/** Verify a parsed line's signature against a 32-byte public key. */
export function verifyLineSignature(line: Record<string, unknown>, publicKey: Uint8Array): boolean {
  const { sig, ...rest } = line;
  if (typeof sig !== 'string' || sig.length !== 128 || !HEX.test(sig)) return false;
  return ed25519Verify(publicKey, signedBytes(rest), lowerHexToBytes('sig', sig, 64));
}

export function isIsoTime(s: unknown): s is string {
  if (typeof s !== 'string') return false;
  const t = Date.parse(s);
  return Number.isFinite(t) && new Date(t).toISOString() === s;
}
