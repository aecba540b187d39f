/**
 * The client privacy policy: what a client insists on before it touches its
 * data for a round. The deploying organisation pins it in the client (a JSON
 * file for `fedveil join --policy`, an object for the library and the
 * browser bundle); the coordinator never sends it and cannot change it.
 *
 * Threat model: the coordinator is the adversary. It may deny service, drop
 * clients, choose who takes part, run clients of its own and collude with up
 * to `colluders` real ones. With this policy enforced by every honest
 * client (round-check.ts), what it can decode about a client is a noised sum
 * of at least `threshold - colluders` honest, certified clients' updates,
 * with at least the noise this policy's DP floor demands.
 *
 * Fields, and why each default:
 * - mode 'active': signed advertisements and the ConsistencyCheck; without
 *   them the coordinator can swap keys and show clients different survivor
 *   sets (Bonawitz et al. CCS 2017, section 4).
 * - authorities / requireCertificates true: every roster member must carry a
 *   certificate from a pinned enrolment authority, or the coordinator fills
 *   the roster with sybils. A policy that requires certificates and pins no
 *   authority accepts no round at all (fail closed).
 * - minRoster 10, minThreshold 5, colluders 1, minHonest 4: small rosters
 *   make one client's share of a sum large; t - g >= 4 honest noise shares.
 * - dp: required, floor from the dp layer (mechanism ddg|skellam, z >= 0.5,
 *   C <= 10, 8..32 bits): a round without noise, or with less, is refused.
 * - budget: epsilon 10 at delta 1e-5 against the coordinator (no
 *   amplification by sampling), unlimited participations.
 */
import { InvalidArgument } from '../errors.js';
import { bytesEqual } from '../util/bytes.js';
import { DEFAULT_DP_FLOOR, type DpFloor } from '../dp/plan-verify.js';
import type { DistributedMechanism } from '../dp/plan.js';
import { decodeCertificate, verifyRevocationList, type Certificate, type RevocationList, type RevokedSerials } from '../crypto/certificate.js';
import { bytesToHex } from '../util/hex.js';
import { hexToBytes } from '../util/hex.js';

export interface ClientPolicyDp extends DpFloor {
  /** Refuse rounds that carry no DP plan (default true). */
  readonly required: boolean;
}

/** A validated, frozen client policy (build it with {@link makeClientPolicy}). */
export interface ClientPolicy {
  readonly mode: 'active' | 'semi-honest';
  /** Pinned enrolment authority public keys. */
  readonly authorities: readonly Uint8Array[];
  readonly requireCertificates: boolean;
  /** Revocation lists signed by pinned authorities. */
  readonly revocations: readonly RevocationList[];
  readonly minRoster: number;
  readonly minThreshold: number;
  /** g: clients that may collude with the coordinator. */
  readonly colluders: number;
  /** Fewest honest clients t - g any decodable sum must contain. */
  readonly minHonest: number;
  readonly dp: ClientPolicyDp;
  readonly budget: { readonly epsilon: number; readonly delta: number; readonly maxParticipations: number };
  /**
   * Take part in federated-evaluation rounds: the client sends two counts
   * (correct predictions, examples) on its held-out data, summed by secure
   * aggregation WITHOUT DP noise. Default false: such rounds are refused.
   */
  readonly evaluation: boolean;
}

/** What a caller may give; everything has a default. Keys are bytes or hex. */
export interface ClientPolicyInput {
  mode?: 'active' | 'semi-honest';
  authorities?: ReadonlyArray<Uint8Array | string>;
  requireCertificates?: boolean;
  revocations?: ReadonlyArray<RevocationList | RevocationListJson>;
  minRoster?: number;
  minThreshold?: number;
  colluders?: number;
  minHonest?: number;
  dp?: Partial<{ required: boolean; mechanism: DistributedMechanism | readonly DistributedMechanism[]; minNoiseMultiplier: number; maxClip: number; minBits: number; maxBits: number; maxSensitivityInflation: number }>;
  budget?: Partial<{ epsilon: number; delta: number; maxParticipations: number }>;
  evaluation?: boolean;
}

/** A revocation list as stored in JSON files (`fedveil authority revoke`). */
export interface RevocationListJson {
  authority: string;
  issuedAt: number;
  serials: number[];
  signature: string;
}

/** A certificate as stored in JSON files (`fedveil authority issue`). */
export interface CertificateJson {
  certificate: string;
}

export const DEFAULT_CLIENT_POLICY: Readonly<Required<Omit<ClientPolicyInput, 'authorities' | 'revocations' | 'dp' | 'budget' | 'evaluation'>>> = Object.freeze({
  mode: 'active',
  requireCertificates: true,
  minRoster: 10,
  minThreshold: 5,
  colluders: 1,
  minHonest: 4,
});

const fail = (field: string, message: string): never => {
  throw new InvalidArgument(`policy.${field}: ${message}`);
};

function hexBytes(field: string, v: unknown, length: number): Uint8Array {
  if (v instanceof Uint8Array) {
    if (v.length !== length) fail(field, `expected ${length} bytes`);
    return Uint8Array.from(v);
  }
  if (typeof v !== 'string' || !/^[0-9a-fA-F]*$/.test(v) || v.length !== 2 * length) fail(field, `expected ${length} bytes as hex`);
  return hexToBytes(v as string, field);
}

function int(field: string, v: unknown, dflt: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) fail(field, `expected an integer in [${min}, ${max}]`);
  return v as number;
}

function num(field: string, v: unknown, dflt: number, min: number, max = Infinity, exclusiveMin = false): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || (exclusiveMin && v === min) || v > max) fail(field, `expected a number ${exclusiveMin ? '>' : '>='} ${min}${max < Infinity ? ` and <= ${max}` : ''}`);
  return v as number;
}

const KNOWN = new Set(['mode', 'authorities', 'requireCertificates', 'revocations', 'minRoster', 'minThreshold', 'colluders', 'minHonest', 'dp', 'budget', 'evaluation']);
const KNOWN_DP = new Set(['required', 'mechanism', 'minNoiseMultiplier', 'maxClip', 'minBits', 'maxBits', 'maxSensitivityInflation']);
const KNOWN_BUDGET = new Set(['epsilon', 'delta', 'maxParticipations']);

function revocationFrom(field: string, v: unknown): RevocationList {
  if (typeof v !== 'object' || v === null) fail(field, 'expected a revocation list');
  const o = v as Record<string, unknown>;
  const list: RevocationList = {
    authority: hexBytes(`${field}.authority`, o.authority, 32),
    issuedAt: int(`${field}.issuedAt`, o.issuedAt, -1, 0),
    serials: Array.isArray(o.serials) ? (o.serials as unknown[]).map((s, i) => int(`${field}.serials[${i}]`, s, -1, 0)) : fail(`${field}.serials`, 'expected an array'),
    signature: hexBytes(`${field}.signature`, o.signature, 64),
  };
  if (!verifyRevocationList(list)) fail(field, 'signature does not verify (or serials not ascending)');
  return list;
}

/**
 * Validate a policy (an object, e.g. parsed JSON) and fill in the defaults.
 * Unknown fields are refused, so a misspelt field never silently weakens it.
 * Throws InvalidArgument naming the field.
 */
export function makeClientPolicy(input: ClientPolicyInput | unknown = {}): ClientPolicy {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) fail('', 'expected an object');
  const o = input as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!KNOWN.has(k)) fail(k, 'unknown field');
  const mode = o.mode ?? DEFAULT_CLIENT_POLICY.mode;
  if (mode !== 'active' && mode !== 'semi-honest') fail('mode', 'expected active or semi-honest');
  const authorities = o.authorities === undefined ? [] : Array.isArray(o.authorities) ? (o.authorities as unknown[]).map((a, i) => hexBytes(`authorities[${i}]`, a, 32)) : fail('authorities', 'expected an array of keys');
  const requireCertificates = o.requireCertificates ?? DEFAULT_CLIENT_POLICY.requireCertificates;
  if (typeof requireCertificates !== 'boolean') fail('requireCertificates', 'expected a boolean');
  const revocations = o.revocations === undefined ? [] : Array.isArray(o.revocations) ? (o.revocations as unknown[]).map((r, i) => revocationFrom(`revocations[${i}]`, r)) : fail('revocations', 'expected an array');
  for (const [i, r] of revocations.entries()) {
    if (!authorities.some((a) => bytesEqual(a, r.authority))) fail(`revocations[${i}]`, 'is signed by an authority the policy does not pin');
  }
  const minRoster = int('minRoster', o.minRoster, DEFAULT_CLIENT_POLICY.minRoster, 2);
  const minThreshold = int('minThreshold', o.minThreshold, DEFAULT_CLIENT_POLICY.minThreshold, 2);
  const colluders = int('colluders', o.colluders, DEFAULT_CLIENT_POLICY.colluders, 0);
  const minHonest = int('minHonest', o.minHonest, DEFAULT_CLIENT_POLICY.minHonest, 1);
  const dpIn = (o.dp ?? {}) as Record<string, unknown>;
  if (typeof dpIn !== 'object' || dpIn === null || Array.isArray(dpIn)) fail('dp', 'expected an object');
  for (const k of Object.keys(dpIn)) if (!KNOWN_DP.has(k)) fail(`dp.${k}`, 'unknown field');
  const required = dpIn.required ?? true;
  if (typeof required !== 'boolean') fail('dp.required', 'expected a boolean');
  const mechanismIn = dpIn.mechanism ?? DEFAULT_DP_FLOOR.mechanism;
  const mechanisms = (Array.isArray(mechanismIn) ? mechanismIn : [mechanismIn]) as unknown[];
  if (mechanisms.length === 0 || mechanisms.some((m) => m !== 'ddg' && m !== 'skellam')) fail('dp.mechanism', 'expected ddg, skellam or a list of them');
  const minBits = int('dp.minBits', dpIn.minBits, DEFAULT_DP_FLOOR.minBits ?? 8, 1, 32);
  const maxBits = int('dp.maxBits', dpIn.maxBits, DEFAULT_DP_FLOOR.maxBits ?? 32, minBits, 32);
  const dp: ClientPolicyDp = Object.freeze({
    required: required as boolean,
    mechanism: Object.freeze(mechanisms as DistributedMechanism[]),
    minNoiseMultiplier: num('dp.minNoiseMultiplier', dpIn.minNoiseMultiplier, DEFAULT_DP_FLOOR.minNoiseMultiplier, 0, Infinity, true),
    maxClip: num('dp.maxClip', dpIn.maxClip, DEFAULT_DP_FLOOR.maxClip, 0, Infinity, true),
    minBits,
    maxBits,
    maxSensitivityInflation: num('dp.maxSensitivityInflation', dpIn.maxSensitivityInflation, DEFAULT_DP_FLOOR.maxSensitivityInflation ?? 2, 1),
  });
  const bIn = (o.budget ?? {}) as Record<string, unknown>;
  if (typeof bIn !== 'object' || bIn === null || Array.isArray(bIn)) fail('budget', 'expected an object');
  for (const k of Object.keys(bIn)) if (!KNOWN_BUDGET.has(k)) fail(`budget.${k}`, 'unknown field');
  const budget = Object.freeze({
    epsilon: num('budget.epsilon', bIn.epsilon, 10, 0, Infinity, true),
    delta: num('budget.delta', bIn.delta, 1e-5, 0, 1 - Number.EPSILON, true),
    maxParticipations: int('budget.maxParticipations', bIn.maxParticipations, Number.MAX_SAFE_INTEGER, 1),
  });
  if (colluders >= minThreshold) fail('colluders', `g = ${colluders} must be below minThreshold = ${minThreshold}`);
  if (o.evaluation !== undefined && typeof o.evaluation !== 'boolean') fail('evaluation', 'expected true or false');
  const evaluation = o.evaluation === true;
  return Object.freeze({
    mode: mode as ClientPolicy['mode'],
    authorities: Object.freeze(authorities),
    requireCertificates: requireCertificates as boolean,
    revocations: Object.freeze(revocations),
    minRoster, minThreshold, colluders, minHonest, dp, budget, evaluation,
  });
}

/**
 * A policy for development only: token enrolment, no certificates, either
 * mode, rosters of 2, no colluders, rounds without DP allowed. A plan that
 * is sent is still checked against its own event and the default DP floor.
 */
export function insecureDevelopmentPolicy(): ClientPolicy {
  return makeClientPolicy({ mode: 'semi-honest', requireCertificates: false, minRoster: 2, minThreshold: 2, colluders: 0, minHonest: 1, dp: { required: false } });
}

/** Parse a certificate from its JSON file form `{ "certificate": "<hex>" }` or raw hex. Throws InvalidArgument. */
export function parseCertificate(v: unknown): Certificate {
  const hex = typeof v === 'string' ? v : typeof v === 'object' && v !== null ? (v as { certificate?: unknown }).certificate : undefined;
  if (typeof hex !== 'string' || !/^[0-9a-fA-F]+$/.test(hex) || hex.length % 2 !== 0) throw new InvalidArgument('certificate: expected { "certificate": "<hex>" }');
  const cert = decodeCertificate(hexToBytes(hex, 'certificate'));
  if (!cert) throw new InvalidArgument('certificate: not a well-formed fedveil certificate');
  return cert;
}

/** The policy's revocation lists as revoked serials per authority (hex key), for checkCertificate. */
export function revokedSerials(policy: ClientPolicy): RevokedSerials {
  const m = new Map<string, Set<number>>();
  for (const r of policy.revocations) {
    const key = bytesToHex(r.authority);
    const set = m.get(key) ?? new Set<number>();
    for (const s of r.serials) set.add(s);
    m.set(key, set);
  }
  return m;
}
