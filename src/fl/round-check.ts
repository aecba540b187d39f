/**
 * What an honest client checks about a round before it touches its data,
 * against its pinned {@link ClientPolicy} (policy.ts). Nothing the
 * coordinator says is taken on trust:
 *
 * - the protocol mode, roster size, threshold and honest minimum t - g;
 * - in active mode, that 2t > k + 1 + g: a client's secrets are shared
 *   t-of-(k+1) among its share holders, of which up to g collude; with that
 *   majority no two different survivor sets can each gather t of one
 *   client's holders, so the coordinator can never reconstruct both a
 *   client's self-mask seed and its mask key (split view);
 * - the roster: this client's own entry (its key at its id, and nowhere
 *   else), each share holder's entry against the roster's Merkle root,
 *   distinct keys, and a valid, unrevoked certificate from a pinned
 *   authority for every entry (no sybils without the authority's key);
 * - the DP plan (dp/plan-verify.ts): recomputed local noise at the honest
 *   minimum, the policy's floor, and the plan's own ledger event;
 * - the round commitment the client then signs: roster root, plan hash,
 *   hash of the global model it received, round and coordinator session.
 *   Two clients shown different rosters, plans or models compute different
 *   round tags, so they cannot complete a round together (I5).
 *
 * A breach is a PolicyViolation naming the policy field; a malformed round
 * is an InvalidMessage naming the coordinator. Either way the client sends
 * nothing for the round.
 */
import { InvalidMessage, PolicyViolation } from '../errors.js';
import { bytesEqual } from '../util/bytes.js';
import { sha256 } from '../crypto/hash.js';
import { checkCertificate, decodeCertificate } from '../crypto/certificate.js';
import { makeConfig, roundTag } from '../secagg/config.js';
import { neighbourGraph } from '../secagg/graph.js';
import { rosterRoot, verifyRosterEntry, type RosterEntry } from '../secagg/roster.js';
import type { SecAggConfig } from '../secagg/types.js';
import { planHash, verifyPlan } from '../dp/plan-verify.js';
import type { DistributedDpPlan } from '../dp/plan.js';
import { revokedSerials, type ClientPolicy } from './policy.js';
import { bytesToHex } from '../util/hex.js';

/** The public round parameters as the coordinator announced them. */
export interface AnnouncedRound {
  readonly round: number;
  readonly index: number;
  readonly n: number;
  readonly threshold: number;
  /** Fewest masked inputs the sum may hold (t <= m <= n). */
  readonly minSurvivors: number;
  readonly bits: number;
  readonly dim: number;
  readonly graph: 'full' | 'harary';
  readonly degree: number;
  readonly mode: 'semi-honest' | 'active';
  readonly seed: Uint8Array;
  readonly stageTimeoutMs: number;
  readonly maxFrameBytes: number;
  readonly roster: { readonly root: Uint8Array; readonly entries: ReadonlyArray<{ id: number; key: Uint8Array; cert: Uint8Array; proof: readonly Uint8Array[] }> };
  /** A DP plan, if the round carries one (untrusted). */
  readonly plan?: unknown;
  /** The global model bytes the client received (float32 weights), if any. */
  readonly model?: Uint8Array;
  /** What the round asks for (default 'train' when a model is sent, else 'vector'). */
  readonly kind?: 'vector' | 'train' | 'evaluate';
}

/** What the client learned from a round it accepts. */
export interface CheckedRound {
  /** The SecAgg configuration, with the round commitment this client computed. */
  readonly config: SecAggConfig;
  readonly roundTag: Uint8Array;
  /** The verified plan (absent for rounds without DP, which only a policy with dp.required false accepts). */
  readonly plan?: DistributedDpPlan;
  readonly modelHash: Uint8Array;
  /** Certified peers among this client's share holders (itself included). */
  readonly certifiedHolders: number;
}

const ZERO32 = new Uint8Array(32);



/**
 * Check an announced round against the policy. `identity` is this client's
 * Ed25519 public key; `coordinatorSession` the session the coordinator's
 * hello carried; `now` Unix seconds for certificate windows.
 */
export function checkRound(policy: ClientPolicy, a: AnnouncedRound, ctx: { identity: Uint8Array; coordinatorSession: Uint8Array; now: number }): CheckedRound {
  const coordinator = 'coordinator';
  // Mode, sizes and thresholds first: they need nothing else.
  if (policy.mode === 'active' && a.mode !== 'active') throw new PolicyViolation('mode', `the round is ${a.mode}, the policy requires active (signed keys and a consistency check)`);
  if (a.n < policy.minRoster) throw new PolicyViolation('minRoster', `roster of ${a.n} is below the policy's ${policy.minRoster}`);
  if (a.threshold < policy.minThreshold) throw new PolicyViolation('minThreshold', `threshold ${a.threshold} is below the policy's ${policy.minThreshold}`);
  if (!Number.isSafeInteger(a.minSurvivors) || a.minSurvivors < a.threshold || a.minSurvivors > a.n) throw new InvalidMessage(`round ${a.round}: minSurvivors ${a.minSurvivors} outside [t, n]`, coordinator);
  // The fewest clients any sum the coordinator can decode must contain. On
  // the full graph every pairwise mask joins every pair of survivors, so the
  // only decodable sum is the whole survivor set, which this client checks
  // has >= minSurvivors members. On a SecAgg+ graph the coordinator can
  // decode sums over groups of survivors it cuts out by declaring their
  // neighbours dropped; each such group still has >= t members, because
  // every member refuses to unmask with fewer than t surviving share holders.
  const decodable = a.graph === 'full' ? a.minSurvivors : a.threshold;
  const honest = decodable - policy.colluders;
  if (honest < policy.minHonest) throw new PolicyViolation('minHonest', `${a.graph === 'full' ? 'minSurvivors' : 't'} - g = ${decodable} - ${policy.colluders} = ${honest} honest clients, below the policy's ${policy.minHonest}`);
  if (!Number.isSafeInteger(a.index) || a.index < 1 || a.index > a.n) throw new InvalidMessage(`round ${a.round}: index ${a.index} outside the roster 1..${a.n}`, coordinator);
  const holdersCount = a.graph === 'full' ? a.n : a.degree + 1;
  if (a.mode === 'active' && 2 * a.threshold <= holdersCount + policy.colluders) {
    throw new PolicyViolation('colluders', `threshold ${a.threshold} is not a majority of ${holdersCount} share holders with ${policy.colluders} colluders (needs 2t > ${holdersCount + policy.colluders})`);
  }
  let graph;
  try {
    graph = neighbourGraph({ n: a.n, graph: a.graph, degree: a.graph === 'full' ? a.n - 1 : a.degree, seed: a.seed, round: a.round });
  } catch (cause) {
    throw new InvalidMessage(`round ${a.round}: invalid graph parameters`, coordinator, { cause });
  }
  const holders = graph.holders(a.index);

  // The roster: own entry, share holders' entries, proofs, distinct keys, certificates.
  const byId = new Map(a.roster.entries.map((e) => [e.id, e]));
  const own = byId.get(a.index);
  if (!own) throw new InvalidMessage(`round ${a.round}: the roster omits this client's own entry`, coordinator);
  if (!bytesEqual(own.key, ctx.identity)) throw new PolicyViolation('identity', `the roster lists another key at this client's id ${a.index}`);
  const complete = a.roster.entries.length === a.n;
  if (complete) {
    // Every entry is here: recompute the root rather than check n proofs.
    const root = rosterRoot(a.roster.entries.map((e) => ({ id: e.id, key: e.key, certificate: e.cert })));
    if (!bytesEqual(root, a.roster.root)) throw new InvalidMessage(`round ${a.round}: the roster entries do not hash to the announced root`, coordinator);
  }
  const seenKeys = new Map<string, number>();
  const authorities = policy.authorities;
  const revoked = revokedSerials(policy);
  const needCerts = policy.requireCertificates;
  if (needCerts && authorities.length === 0) throw new PolicyViolation('authorities', 'the policy requires certificates but pins no authority key');
  let certifiedHolders = 0;
  const verifyKeys: (Uint8Array | undefined)[] = new Array<Uint8Array | undefined>(a.n).fill(undefined);
  for (const id of complete ? a.roster.entries.map((e) => e.id) : holders) {
    const e = byId.get(id);
    if (!e) throw new InvalidMessage(`round ${a.round}: the roster omits share holder ${id}`, coordinator);
    const entry: RosterEntry = { id: e.id, key: e.key, certificate: e.cert };
    if (!complete && !verifyRosterEntry(a.roster.root, a.n, entry, { index: id - 1, size: a.n, path: e.proof })) {
      throw new InvalidMessage(`round ${a.round}: roster entry ${id} does not verify against the root`, coordinator);
    }
    const k = bytesToHex(e.key);
    const dup = seenKeys.get(k);
    if (dup !== undefined) {
      // Includes this client's own key listed under a second id.
      throw new PolicyViolation(dup === a.index || id === a.index ? 'identity' : 'roster', `the same key is listed at ids ${dup} and ${id}`);
    }
    seenKeys.set(k, id);
    if (needCerts) {
      const cert = decodeCertificate(e.cert);
      const problem = checkCertificate(cert, { authorities, now: ctx.now, subject: e.key, revoked });
      if (problem) throw new PolicyViolation('authorities', `roster member ${id}: certificate ${problem}`);
    }
    if (holders.includes(id)) {
      certifiedHolders++;
      verifyKeys[id - 1] = e.key;
    }
  }
  if (certifiedHolders < a.threshold) throw new PolicyViolation('minThreshold', `only ${certifiedHolders} verified share holders, fewer than t = ${a.threshold}`);

  // The DP plan, checked against the policy and recomputed.
  let plan: DistributedDpPlan | undefined;
  if (a.kind === 'evaluate') {
    // Two counts, no noise: only a policy that opted in takes part.
    if (!policy.evaluation) throw new PolicyViolation('evaluation', 'the round asks for federated-evaluation counts and the policy does not allow evaluation rounds');
    if (a.plan !== undefined) throw new PolicyViolation('evaluation', 'an evaluation round carries no DP plan');
    if (a.dim !== 2) throw new PolicyViolation('evaluation', `an evaluation round sums 2 counts, this one ${a.dim} values`);
  } else if (a.plan !== undefined) {
    const modelDim = a.model ? a.model.length / 4 : a.dim;
    // I6: the noise must be calibrated to the honest minimum of the decodable sums.
    plan = verifyPlan(a.plan, policy.dp, { threshold: decodable, colluders: policy.colluders, dim: modelDim, vectorLength: a.dim, bits: a.bits, maxClients: a.n });
  } else if (policy.dp.required) {
    throw new PolicyViolation('dp.required', 'the round carries no DP plan and the policy requires one');
  }
  const modelHash = a.model ? sha256(a.model) : ZERO32;
  let config: SecAggConfig;
  try {
    config = makeConfig({
      n: a.n, threshold: a.threshold, minSurvivors: a.minSurvivors, dim: a.dim, bits: a.bits, graph: a.graph, mode: a.mode,
      ...(a.graph === 'harary' ? { degree: a.degree } : {}),
      seed: a.seed, round: a.round, stageTimeoutMs: a.stageTimeoutMs, limits: { maxFrameBytes: a.maxFrameBytes },
      ...(a.mode === 'active' ? { verifyKeys: complete ? a.roster.entries.map((e) => e.key) : verifyKeys } : {}),
      commitment: { rosterRoot: a.roster.root, planHash: plan ? planHash(plan) : ZERO32, modelHash, coordinatorSession: ctx.coordinatorSession },
    });
  } catch (cause) {
    throw new InvalidMessage(`round ${a.round}: invalid secure-aggregation parameters`, coordinator, { cause });
  }
  return Object.freeze({ config, roundTag: roundTag(config), ...(plan ? { plan } : {}), modelHash, certifiedHolders });
}
