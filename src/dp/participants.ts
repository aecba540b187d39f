/**
 * Participant commitments and the epsilon against the coordinator.
 *
 * The coordinator chooses the client sample and sees the roster, so an
 * epsilon amplified by sampling does not hold against it. Against the
 * coordinator a client's privacy loss is the composition of the
 * UNAMPLIFIED per-round events of the rounds that client took part in.
 * To let an auditor compute that for the worst-case client without learning
 * who took part, every round line of the coordinator's ledger carries a
 * commitment to its participants: the sorted, distinct list of
 *
 *     hex SHA-256( utf8("fedveil/v1/ledger-participant\n") || salt || identity )
 *
 * where `salt` is the 32-byte SHA-256 of the ledger's header line (fixed per
 * ledger, so the same identity has the same hash in every round of one
 * ledger and unrelated hashes across ledgers) and `identity` is the client's
 * Ed25519 public key (32 bytes) for `fedveil serve`, or the simulated
 * client's identity in a simulation. Anyone holding a client's public key
 * and the ledger can recompute its hash (the client itself, to check that
 * every round it took part in lists it); an auditor who does not know the
 * public keys sees only opaque hashes. The salt is public: whoever knows a
 * candidate public key can test whether it took part. The hashes hide
 * identities from auditors, not from parties that know the keys (the
 * coordinator, the authority, roster peers).
 *
 * {@link ParticipationTally} counts participations per hash and composes, per
 * identity, the unamplified events of its rounds: the worst-case and median
 * identity's epsilon. Rounds recorded without a commitment (older ledgers)
 * are counted for every identity, which is conservative.
 *
 * Pure (no I/O): Node and browsers.
 */
import { InvalidArgument } from '../errors.js';
import { sha256 } from '../crypto/index.js';
import { withoutSamplingAmplification, type DpEvent } from './events.js';
import { bytesToLowerHex, canonicalJson, lowerHexToBytes, type AccountantName } from './ledger-format.js';
import { epsilonOfRuns, type EventRun } from './ledger-verify.js';

/** Domain separation of participant hashes. */
export const PARTICIPANT_DOMAIN = 'fedveil/v1/ledger-participant\n';

const utf8 = new TextEncoder();
const HEX64 = /^[0-9a-f]{64}$/;

/** The participant hash of `identity` under a ledger's salt (64 lower-case hex: the SHA-256 of its header line). */
export function participantHash(salt: string, identity: Uint8Array): string {
  const s = lowerHexToBytes('participant salt', salt, 32);
  if (!(identity instanceof Uint8Array) || identity.length === 0) throw new InvalidArgument('participant identity: expected non-empty bytes');
  const domain = utf8.encode(PARTICIPANT_DOMAIN);
  const buf = new Uint8Array(domain.length + s.length + identity.length);
  buf.set(domain, 0);
  buf.set(s, domain.length);
  buf.set(identity, domain.length + s.length);
  return bytesToLowerHex(sha256(buf));
}

/**
 * A round's participant commitment: the hashes of `identities`, sorted
 * ascending (no roster order survives). Throws InvalidArgument when an
 * identity appears twice (a client takes part in a round at most once).
 */
export function participantCommitment(salt: string, identities: readonly Uint8Array[]): string[] {
  const hashes = identities.map((id) => participantHash(salt, id)).sort();
  for (let i = 1; i < hashes.length; i++) {
    if (hashes[i] === hashes[i - 1]) throw new InvalidArgument('participants: an identity is listed twice in one round');
  }
  return hashes;
}

/** Why a parsed `participants` value is malformed (not a sorted list of distinct 64-hex hashes), or null. */
export function participantsShapeProblem(v: unknown): string | null {
  if (!Array.isArray(v)) return 'participants is not an array';
  for (let i = 0; i < v.length; i++) {
    const h = v[i] as unknown;
    if (typeof h !== 'string' || !HEX64.test(h)) return `participants[${i}] is not 64 lower-case hex characters`;
    if (i > 0 && !((v[i - 1] as string) < h)) return 'participants are not sorted ascending without duplicates (one spelling per set)';
  }
  return null;
}

/** Epsilon against the coordinator of one identity (or a group of identities with the same rounds). */
export interface IdentityEpsilon {
  /** Rounds it took part in (rounds without a commitment included). */
  readonly participations: number;
  /** Epsilon of the composition of those rounds' unamplified events; null when the accountant has no bound. */
  readonly epsilon: number | null;
  readonly reason?: string;
}

/** The guarantee against the coordinator, from per-identity participations. */
export interface CoordinatorEpsilon {
  readonly guarantee: 'coordinator';
  readonly accountant: AccountantName;
  readonly delta: number;
  /** Identities counted: the distinct hashes seen, plus non-participants of a known population. */
  readonly identities: number;
  /** Rounds tallied. */
  readonly rounds: number;
  /** Rounds without a participant commitment (counted for every identity). */
  readonly roundsWithoutParticipants: number;
  /** The most participations of any identity. */
  readonly maxParticipations: number;
  /** The median identity's participations (upper median). */
  readonly medianParticipations: number;
  /** The identity with the largest epsilon (with identical rounds: the one with the most participations). */
  readonly worst: IdentityEpsilon;
  /** The median identity by epsilon (upper median). */
  readonly median: IdentityEpsilon;
}

/**
 * Participations per identity hash and the unamplified event of every round.
 * `add` each round in order; `summary` gives the worst-case and median
 * identity's epsilon against the coordinator.
 */
export class ParticipationTally {
  /** Distinct unamplified events, by canonical JSON. */
  readonly #eventIndex = new Map<string, number>();
  readonly #events: DpEvent[] = [];
  /** Identity hash -> participations per distinct event. */
  readonly #perIdentity = new Map<string, number[]>();
  /** Rounds without a commitment, per distinct event: every identity is assumed in them. */
  readonly #unattributed: number[] = [];
  #rounds = 0;
  #withoutParticipants = 0;

  /** Rounds tallied. */
  get rounds(): number {
    return this.#rounds;
  }

  /** Distinct identities seen. */
  get identities(): number {
    return this.#perIdentity.size;
  }

  /** Record a round: its event as recorded (sampling wrappers are removed here) and its commitment, if any. */
  add(event: DpEvent, participants?: readonly string[]): void {
    const unamplified = withoutSamplingAmplification(event);
    const key = canonicalJson(unamplified);
    let idx = this.#eventIndex.get(key);
    if (idx === undefined) {
      idx = this.#events.length;
      this.#events.push(unamplified);
      this.#eventIndex.set(key, idx);
    }
    this.#rounds++;
    if (participants === undefined) {
      this.#withoutParticipants++;
      this.#unattributed[idx] = (this.#unattributed[idx] ?? 0) + 1;
      return;
    }
    for (const h of participants) {
      let counts = this.#perIdentity.get(h);
      if (!counts) this.#perIdentity.set(h, (counts = []));
      counts[idx] = (counts[idx] ?? 0) + 1;
    }
  }

  /** How many rounds the identity with this hash took part in (rounds without a commitment included). */
  participationsOf(hash: string): number {
    return sum(this.#perIdentity.get(hash) ?? []) + sum(this.#unattributed);
  }

  /**
   * Epsilon against the coordinator at `delta` with a fresh `accountant`,
   * for the worst-case and the median identity. `population`: the number of
   * clients that could have taken part (known to a simulation), so that
   * clients never sampled count in the median; without it only identities
   * seen count (at least one, when there are rounds without commitments: a
   * client in all of them).
   */
  summary(accountant: AccountantName, delta: number, opts: { population?: number } = {}): CoordinatorEpsilon {
    // Identities with the same participations per event have the same epsilon: one computation per group.
    const groups = new Map<string, { counts: number[]; size: number }>();
    const addGroup = (own: readonly number[], size: number): void => {
      const counts = this.#events.map((_, i) => (own[i] ?? 0) + (this.#unattributed[i] ?? 0));
      const key = counts.join(',');
      const g = groups.get(key);
      if (g) g.size += size;
      else groups.set(key, { counts, size });
    };
    for (const counts of this.#perIdentity.values()) addGroup(counts, 1);
    const seen = this.#perIdentity.size;
    const population = opts.population;
    if (population !== undefined && (!Number.isSafeInteger(population) || population < 0)) throw new InvalidArgument('population: expected an integer >= 0');
    const others = population !== undefined ? Math.max(0, population - seen) : seen === 0 && this.#rounds > 0 ? 1 : 0;
    if (others > 0) addGroup([], others);

    const scored = [...groups.values()].map((g) => {
      const runs: EventRun[] = [];
      g.counts.forEach((count, i) => {
        if (count > 0) runs.push({ key: canonicalJson(this.#events[i]), event: this.#events[i]!, count });
      });
      const participations = sum(g.counts);
      const res = runs.length === 0 ? { epsilon: 0 } : epsilonOfRuns(runs, accountant, delta);
      const out: IdentityEpsilon = { participations, epsilon: res.epsilon, ...(res.epsilon === null && res.reason !== undefined ? { reason: res.reason } : {}) };
      return { out, size: g.size };
    });
    const none: IdentityEpsilon = { participations: 0, epsilon: 0 };
    // An unbounded (null) epsilon ranks above every bound.
    const rank = (e: IdentityEpsilon): number => (e.epsilon === null ? Infinity : e.epsilon);
    const byEpsilon = [...scored].sort((a, b) => rank(a.out) - rank(b.out) || a.out.participations - b.out.participations);
    const byCount = [...scored].sort((a, b) => a.out.participations - b.out.participations);
    const total = scored.reduce((n, s) => n + s.size, 0);
    return Object.freeze({
      guarantee: 'coordinator' as const,
      accountant,
      delta,
      identities: total,
      rounds: this.#rounds,
      roundsWithoutParticipants: this.#withoutParticipants,
      maxParticipations: byCount[byCount.length - 1]?.out.participations ?? 0,
      medianParticipations: upperMedian(byCount, total)?.out.participations ?? 0,
      worst: byEpsilon[byEpsilon.length - 1]?.out ?? none,
      median: upperMedian(byEpsilon, total)?.out ?? none,
    });
  }
}

function sum(xs: readonly (number | undefined)[]): number {
  let s = 0;
  for (const x of xs) s += x ?? 0;
  return s;
}

/** The element at position floor(total / 2) of the sorted groups expanded by size. */
function upperMedian<T extends { size: number }>(sorted: readonly T[], total: number): T | undefined {
  if (total === 0) return undefined;
  let pos = Math.floor(total / 2);
  for (const g of sorted) {
    if (pos < g.size) return g;
    pos -= g.size;
  }
  return sorted[sorted.length - 1];
}
