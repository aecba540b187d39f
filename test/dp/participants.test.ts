/**
 * Participant commitments in the coordinator's ledger and the epsilon
 * against the coordinator per identity: hashes an identity can recompute,
 * a worst-case figure equal to an independently computed k-fold
 * composition, tampering detected by the chain, old ledgers still verify.
 */
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runAudit, EXIT_INTEGRITY, EXIT_OK } from '../../src/cli/audit.js';
import { ed25519PublicKey } from '../../src/crypto/index.js';
import { gaussianEvent, poissonSampledEvent } from '../../src/dp/events.js';
import { PrivacyLedger } from '../../src/dp/ledger.js';
import { lineHash, signLine } from '../../src/dp/ledger-format.js';
import { verifyLedger } from '../../src/dp/ledger-verify.js';
import { ParticipationTally, participantCommitment, participantHash, PARTICIPANT_DOMAIN } from '../../src/dp/participants.js';
import { RdpAccountant } from '../../src/dp/rdp.js';
import { InvalidArgument } from '../../src/errors.js';
import { expectFedveilError, expectFedveilRejection } from '../expect-error.js';
import { gaussianRound, tempDir, testClock, testKey } from '../fixtures/ledgers/generate.js';

const Q = 0.05;
const Z = 1.1;
const DELTA = 1e-5;
const ROUNDS = 5;
/** Client public keys (Ed25519, deterministic seeds). */
const keys = Array.from({ length: 6 }, (_, i) => ed25519PublicKey(new Uint8Array(32).fill(100 + i)));
/**
 * Who takes part in which round: client 0 in all 5 rounds (k = 5), client 1
 * in 3, clients 2..5 in 1 or 2. Each round has 3 participants (= survivors).
 */
const schedule: number[][] = [[0, 1, 2], [0, 1, 3], [0, 1, 4], [0, 2, 5], [0, 3, 4]];

/** The k-fold composition of the unamplified round event, by a fresh RDP accountant. */
const kFold = (k: number): number => new RdpAccountant().compose(gaussianEvent(Z), k).epsilon(DELTA);

async function writeLedger(): Promise<{ path: string; lines: string[]; secretKey: Uint8Array }> {
  const path = join(tempDir(), 'participants.jsonl');
  const { secretKey } = testKey(9);
  const ledger = await PrivacyLedger.create(path, { secretKey, delta: DELTA, epsilonBudget: 50, now: testClock() });
  for (const who of schedule) {
    await ledger.appendRound({ ...gaussianRound({ q: Q, z: Z, survivors: who.length, t: 2 }), participants: who.map((i) => keys[i]!) });
  }
  await ledger.close();
  return { path, lines: readFileSync(path, 'utf8').split('\n').slice(0, -1), secretKey };
}

describe('participant hashes', () => {
  test('SHA-256(domain || salt || public key), salt = SHA-256 of the header line: recomputable by the client', async () => {
    const { lines } = await writeLedger();
    const salt = createHash('sha256').update(lines[0]!, 'utf8').digest();
    const mine = createHash('sha256').update(PARTICIPANT_DOMAIN, 'utf8').update(salt).update(keys[0]!).digest('hex');
    expect(participantHash(salt.toString('hex'), keys[0]!)).toBe(mine);
    const rounds = lines.slice(1).map((l) => JSON.parse(l) as { participants: string[] });
    // client 0 finds itself in every round; no public key appears in the clear
    for (const r of rounds) expect(r.participants).toContain(mine);
    for (const k of keys) expect(lines.join('\n')).not.toContain(Buffer.from(k).toString('hex'));
    // sorted, so the roster order does not survive
    for (const r of rounds) expect([...r.participants].sort()).toEqual(r.participants);
  });

  test('a duplicate identity in one round and a count other than survivors are refused', async () => {
    const salt = '00'.repeat(32);
    expectFedveilError(() => participantCommitment(salt, [keys[0]!, keys[0]!]), InvalidArgument, 'INVALID_ARGUMENT');
    const path = join(tempDir(), 'l.jsonl');
    const ledger = await PrivacyLedger.create(path, { secretKey: testKey(9).secretKey, delta: DELTA, epsilonBudget: 50 });
    await expectFedveilRejection(ledger.appendRound({ ...gaussianRound({ survivors: 3, t: 2 }), participants: [keys[0]!, keys[1]!] }), InvalidArgument, 'INVALID_ARGUMENT');
    await expectFedveilRejection(ledger.appendRound({ ...gaussianRound({ survivors: 2, t: 2 }), participants: [keys[0]!, keys[0]!] }), InvalidArgument, 'INVALID_ARGUMENT');
    expect(ledger.rounds).toBe(0);
    await ledger.close();
  });
});

describe('epsilon against the coordinator per identity', () => {
  test('the worst-case identity (k = 5 participations) is the independently computed 5-fold composition; the median is its own count', async () => {
    const { path } = await writeLedger();
    const res = await runAudit(path, { pldPoints: 1 });
    expect(res.exitCode).toBe(EXIT_OK);
    // participations: client 0: 5, client 1: 3, clients 2, 3, 4: 2, client 5: 1 -> sorted [1, 2, 2, 2, 3, 5], upper median 2
    const ac = res.json.againstCoordinator as {
      guarantee: string; identities: number; rounds: number; roundsWithParticipants: number; maxParticipations: number; medianParticipations: number;
      worst: { participations: number; epsilon: Record<string, number> }; median: { participations: number; epsilon: Record<string, number> };
    };
    expect(ac).toMatchObject({ guarantee: 'coordinator', identities: 6, rounds: 5, roundsWithParticipants: 5, maxParticipations: 5, medianParticipations: 2 });
    expect(ac.worst.participations).toBe(5);
    expect(ac.worst.epsilon.rdp).toBeCloseTo(kFold(5), 10);
    expect(ac.median.participations).toBe(2);
    expect(ac.median.epsilon.rdp).toBeCloseTo(kFold(2), 10);
    // unamplified: far above the amplified figure of the same ledger (model observers)
    expect(res.json.guarantee).toBe('model-observers');
    expect(ac.worst.epsilon.rdp).toBeGreaterThan((res.json.epsilon as { rdp: number }).rdp * 3);
    // the composition of 5 unsampled Gaussians is one Gaussian: PLD (exact here) is at most RDP's bound
    expect(ac.worst.epsilon.pld!).toBeLessThanOrEqual(ac.worst.epsilon.rdp!);
    expect(res.text).toMatch(/^guarantee model-observers: epsilon against observers of the released models, valid if sampling was done as recorded$/m);
    expect(res.text).toMatch(/^guarantee coordinator \(per identity, no amplification\): rdp epsilon \S+ for the identity with the most participations \(5 of 5 rounds\), \S+ for the median identity \(2 rounds\); 6 identities committed$/m);
  });

  test('the tally: population members never sampled count in the median; heterogeneous rounds rank by epsilon', () => {
    const t = new ParticipationTally();
    t.add(poissonSampledEvent(Q, gaussianEvent(Z)), ['a'.repeat(64), 'b'.repeat(64)]);
    t.add(poissonSampledEvent(Q, gaussianEvent(Z)), ['a'.repeat(64)]);
    const s = t.summary('rdp', DELTA, { population: 5 });
    expect(s).toMatchObject({ identities: 5, maxParticipations: 2, medianParticipations: 0 });
    expect(s.worst.epsilon).toBeCloseTo(kFold(2), 10);
    expect(s.median.epsilon).toBe(0);
    // one round with much less noise outweighs two rounds with more
    const h = new ParticipationTally();
    h.add(gaussianEvent(5), ['a'.repeat(64)]);
    h.add(gaussianEvent(5), ['a'.repeat(64)]);
    h.add(gaussianEvent(0.8), ['b'.repeat(64)]);
    const w = h.summary('rdp', DELTA);
    expect(w.maxParticipations).toBe(2);
    expect(w.worst.participations).toBe(1);
    expect(w.worst.epsilon).toBeCloseTo(new RdpAccountant().compose(gaussianEvent(0.8), 1).epsilon(DELTA), 10);
  });

  test('a continued ledger keeps counting: againstCoordinator after reopening', async () => {
    const { path, secretKey } = await writeLedger();
    const ledger = await PrivacyLedger.open(path, { secretKey });
    expect(ledger.againstCoordinator()).toMatchObject({ maxParticipations: 5, identities: 6 });
    // the ledger's own figure is amplified by the recorded sampling
    expect(ledger.guarantee).toBe('model-observers');
    await ledger.appendRound({ ...gaussianRound({ q: Q, z: Z, survivors: 2, t: 2 }), participants: [keys[0]!, keys[5]!] });
    const s = ledger.againstCoordinator();
    expect(s.maxParticipations).toBe(6);
    expect(s.worst.epsilon).toBeCloseTo(kFold(6), 10);
    await ledger.close();
    expect(verifyLedger(readFileSync(path)).valid).toBe(true);
  });

  test('a ledger without commitments still verifies; every round counts for every client (conservative)', async () => {
    const example = fileURLToPath(new URL('../fixtures/ledgers/example.jsonl', import.meta.url));
    const res = await runAudit(example, { pldPoints: 1 });
    expect(res.exitCode).toBe(EXIT_OK);
    const ac = res.json.againstCoordinator as { roundsWithoutParticipants: number; worst: { participations: number; epsilon: { rdp: number } } };
    expect(ac.roundsWithoutParticipants).toBe(3);
    expect(ac.worst.participations).toBe(3);
    expect(ac.worst.epsilon.rdp).toBeCloseTo(kFold(3), 10);
    expect(res.text).toMatch(/no round commits to its participants: every round is counted for every client/);
  });
});

describe('tampering with the participants field', () => {
  const edit = (line: string, f: (p: string[]) => string[]): string => {
    const obj = JSON.parse(line) as Record<string, unknown>;
    obj.participants = f(obj.participants as string[]);
    return JSON.stringify(obj);
  };

  test('an edited hash, a dropped participant or a removed field breaks the signature', async () => {
    const { lines } = await writeLedger();
    const cases: Array<(p: string[]) => string[]> = [
      (p) => [p[0]!, p[1]!, 'f'.repeat(64)],
      (p) => p.slice(1),
    ];
    for (const f of cases) {
      const tampered = [...lines];
      tampered[2] = edit(lines[2]!, f);
      // the line stays canonical (keys keep their sorted order): only the signature gives it away
      const report = verifyLedger(tampered.join('\n') + '\n');
      expect(report.error?.line).toBe(3);
      expect(report.error?.reason).toBe('BAD_SIGNATURE');
    }
    const removed = [...lines];
    const obj = JSON.parse(lines[2]!) as Record<string, unknown>;
    delete obj.participants;
    removed[2] = JSON.stringify(Object.fromEntries(Object.entries(obj).sort(([a], [b]) => (a < b ? -1 : 1))));
    expect(verifyLedger(removed.join('\n') + '\n').error?.reason).toBe('BAD_SIGNATURE');
  });

  test('a line re-signed with the changed participants breaks the chain at the next line', async () => {
    const { lines, secretKey, path } = await writeLedger();
    const obj = JSON.parse(lines[2]!) as Record<string, unknown>;
    delete obj.sig;
    obj.participants = [...(obj.participants as string[]).slice(0, 2), 'f'.repeat(64)].sort();
    const tampered = [...lines];
    tampered[2] = signLine(obj, secretKey);
    const report = verifyLedger(tampered.join('\n') + '\n', { publicKey: testKey(9).publicKey });
    expect(report.error?.reason).toBe('HASH_MISMATCH');
    expect(report.error?.line).toBe(4);
    // and the file itself: the audit exits 4 naming line 4
    writeFileSync(path, tampered.join('\n') + '\n');
    const res = await runAudit(path, { pldPoints: 1 });
    expect(res.exitCode).toBe(EXIT_INTEGRITY);
    expect(res.message).toMatch(/line 4: HASH_MISMATCH/);
  });

  test('unsorted or malformed commitments are BAD_RECORD; a count other than survivors is a violation', async () => {
    const { lines, secretKey } = await writeLedger();
    const resign = (f: (o: Record<string, unknown>) => void): string => {
      const out = [...lines];
      for (let i = 2; i < out.length; i++) {
        const o = JSON.parse(out[i]!) as Record<string, unknown>;
        delete o.sig;
        if (i === 2) f(o);
        o.prevHash = lineHash(new TextEncoder().encode(out[i - 1]!));
        out[i] = signLine(o, secretKey);
      }
      return out.join('\n') + '\n';
    };
    const unsorted = verifyLedger(resign((o) => void (o.participants = [...(o.participants as string[])].reverse())));
    expect(unsorted.error?.reason).toBe('BAD_RECORD');
    expect(unsorted.error?.line).toBe(3);
    const upper = verifyLedger(resign((o) => void (o.participants = (o.participants as string[]).map((h) => h.toUpperCase()))));
    expect(upper.error?.reason).toBe('BAD_RECORD');
    const fewer = verifyLedger(resign((o) => void (o.participants = (o.participants as string[]).slice(1))));
    expect(fewer.valid).toBe(false);
    expect(fewer.issues).toEqual([expect.objectContaining({ line: 3, code: 'PARAMETER_VIOLATION', kind: 'consistency' })]);
  });
});
