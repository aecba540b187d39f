/**
 * Exact sums: random rosters, thresholds, bit widths, lengths, graphs and
 * dropout schedules at every stage, against the plain modular sum of the
 * survivors' inputs (survivor = sent its masked input). Aborts must be typed.
 */
import fc from 'fast-check';
import { deterministicRandom } from '../../src/crypto/random.js';
import { ed25519KeyPair } from '../../src/crypto/signatures.js';
import { ProtocolAborted, ThresholdNotMet } from '../../src/errors.js';
import { makeConfig } from '../../src/secagg/config.js';
import { runSecAggRound } from '../../src/secagg/runner.js';
import type { DropoutSchedule, SecAggConfig } from '../../src/secagg/types.js';
import { neighbourGraph } from '../../src/secagg/graph.js';
import { plainSum, randomInputs } from './helpers.js';

const STAGES = ['beforeAdvertise', 'beforeShareKeys', 'beforeMaskedInput', 'beforeConsistency', 'beforeUnmasking'] as const;

interface Case {
  n: number; bits: number; dim: number; harary: boolean; kFrac: number; tFrac: number; active: boolean;
  drops: number[]; seed: number;
}

const caseArb = fc.record({
  n: fc.integer({ min: 3, max: 40 }),
  bits: fc.integer({ min: 1, max: 32 }),
  dim: fc.integer({ min: 1, max: 40 }),
  harary: fc.boolean(),
  kFrac: fc.double({ min: 0, max: 1, noNaN: true }),
  tFrac: fc.double({ min: 0, max: 1, noNaN: true }),
  active: fc.boolean(),
  // Per client: index of the stage it drops before; 5+ = never drops (weighted towards staying).
  drops: fc.array(fc.integer({ min: 0, max: 14 }), { minLength: 40, maxLength: 40 }),
  seed: fc.integer({ min: 0, max: 2 ** 31 }),
});

async function runCase(c: Case) {
  const harary = c.harary && c.n >= 4;
  const degree = harary ? 2 * (1 + Math.floor(c.kFrac * (Math.floor((c.n - 2) / 2) - 1 + 0.999))) : c.n - 1;
  const minT = c.active ? Math.floor((degree + 1) / 2) + 1 : 2;
  const threshold = Math.min(degree + 1, minT + Math.floor(c.tFrac * (degree + 1 - minT + 0.999)));
  const rng = deterministicRandom(c.seed);
  const seed = new Uint8Array(32);
  rng.fill(seed);
  const signing = c.active ? Array.from({ length: c.n }, () => ed25519KeyPair(rng)) : [];
  const config = makeConfig({
    n: c.n, threshold, dim: c.dim, bits: c.bits, seed, mode: c.active ? 'active' : 'semi-honest',
    graph: harary ? 'harary' : 'full', ...(harary ? { degree } : {}),
    ...(c.active ? { verifyKeys: signing.map((k) => k.publicKey) } : {}),
  });
  const inputs = randomInputs(c.n, c.dim, c.bits, rng);
  const dropouts: DropoutSchedule = {};
  const stageOf = (id: number) => c.drops[id - 1]!;
  for (let id = 1; id <= c.n; id++) {
    const s = stageOf(id);
    if (s < 5) (dropouts[STAGES[s]!] ??= []).push(id);
  }
  const expectedSurvivors = Array.from({ length: c.n }, (_, i) => i + 1).filter((id) => stageOf(id) >= 3);
  const mustComplete = completes(config, stageOf);
  try {
    const res = await runSecAggRound({ inputs, config, dropouts, rng, ...(c.active ? { signingKeys: signing.map((k) => k.secretKey) } : {}) });
    expect(res.survivors).toEqual(expectedSurvivors);
    expect(res.sum).toEqual(plainSum(inputs, expectedSurvivors, c.bits));
    return 'ok';
  } catch (err) {
    expect(err).toBeInstanceOf(ProtocolAborted);
    // An abort must be justified: the round was not guaranteed to complete.
    expect(mustComplete).toBe(false);
    return 'aborted';
  }
}

/**
 * A sufficient condition for the round to complete, from the protocol's
 * rules, stage by stage (client ids drop before stage index stageOf(id)):
 * every global set reaches t, and every client that goes on has t of its
 * share holders (itself included) in the set its check counts: advertised
 * ones to share, sharers to mask, maskers to sign and unmask, signers
 * (active) for the consistency signatures; and the server finds t
 * answering holders for every secret it must rebuild. On the full graph
 * the holders are everyone, so this is the global count of the paper.
 */
function completes(config: SecAggConfig, stageOf: (id: number) => number): boolean {
  const { n, threshold: t } = config;
  const ids = Array.from({ length: n }, (_, i) => i + 1);
  const set = (k: number) => new Set(ids.filter((id) => stageOf(id) >= k));
  const [u1, u2, u3, u4, answered] = [set(1), set(2), set(3), set(4), set(5)];
  const active = config.mode === 'active';
  const g = neighbourGraph(config);
  const holdersIn = (u: number, s: Set<number>) => g.holders(u).filter((v) => s.has(v)).length;
  if ([u1, u2, u3].some((s) => s.size < t) || (active && u4.size < t)) return false;
  for (const u of u1) if (holdersIn(u, u1) < t) return false;
  for (const u of u3) if (holdersIn(u, u2) < t) return false;
  const unmaskers = active ? new Set([...u4].filter((u) => answered.has(u))) : new Set([...u3].filter((u) => answered.has(u)));
  for (const u of active ? u4 : u3) {
    if (holdersIn(u, u3) < t) return false;
    if (active && unmaskers.has(u) && holdersIn(u, u4) < t) return false;
  }
  for (const v of u2) if (holdersIn(v, unmaskers) < t) return false;
  return true;
}

describe('SecAgg rounds: exact sums under dropouts', () => {
  test('property: sum of survivors mod 2^b, or a typed abort (full and Harary graphs, both modes)', async () => {
    const outcomes = { ok: 0, aborted: 0 };
    await fc.assert(fc.asyncProperty(caseArb, async (c) => {
      outcomes[await runCase(c)]++;
    }), { numRuns: 25, seed: 20260101 });
    // The generator must exercise both outcomes.
    expect(outcomes.ok).toBeGreaterThan(5);
    expect(outcomes.aborted).toBeGreaterThan(0);
  });

  test('no dropouts: Harary rounds always complete', async () => {
    await fc.assert(fc.asyncProperty(
      fc.integer({ min: 4, max: 40 }), fc.integer({ min: 1, max: 32 }), fc.integer({ min: 0, max: 1000 }),
      async (n, bits, s) => {
        const degree = 2 * Math.max(1, Math.floor((n - 2) / 4));
        const config = makeConfig({ n, threshold: Math.max(2, degree / 2), dim: 7, bits, graph: 'harary', degree, seed: new Uint8Array(32).fill(s % 256), round: s });
        const rng = deterministicRandom(s);
        const inputs = randomInputs(n, 7, bits, rng);
        const res = await runSecAggRound({ inputs, config, rng });
        expect(res.survivors.length).toBe(n);
        expect(res.sum).toEqual(plainSum(inputs, res.survivors, bits));
      }), { numRuns: 10, seed: 7 });
  });

  test('a larger vector with b = 32 and 10% dropout before masking (wrap-around arithmetic)', async () => {
    const n = 20;
    const rng = deterministicRandom(3);
    const config = makeConfig({ n, threshold: 11, dim: 5000, bits: 32, seed: new Uint8Array(32).fill(3) });
    const inputs = randomInputs(n, 5000, 32, rng);
    const res = await runSecAggRound({ inputs, config, dropouts: { beforeMaskedInput: [4, 17] }, rng });
    expect(res.survivors).not.toContain(4);
    expect(res.sum).toEqual(plainSum(inputs, res.survivors, 32));
    expect(res.stats.stageCounts).toEqual({ advertised: 20, shared: 20, masked: 18, unmasked: 18 });
  });

  describe('abort below t at each stage (typed ThresholdNotMet, no sum)', () => {
    const n = 8;
    const t = 5;
    const all = (k: number) => Array.from({ length: k }, (_, i) => i + 1);
    test.each(STAGES.filter((s) => s !== 'beforeConsistency'))('%s', async (stage) => {
      const config = makeConfig({ n, threshold: t, dim: 10, bits: 16, seed: new Uint8Array(32).fill(9) });
      const rng = deterministicRandom(11);
      const inputs = randomInputs(n, 10, 16, rng);
      const dropouts: DropoutSchedule = { [stage]: all(n - t + 1) };
      await expect(runSecAggRound({ inputs, config, dropouts, rng })).rejects.toBeInstanceOf(ThresholdNotMet);
    });
    test('beforeConsistency (active mode)', async () => {
      const rng = deterministicRandom(12);
      const keys = Array.from({ length: n }, () => ed25519KeyPair(rng));
      const config = makeConfig({ n, threshold: t, dim: 10, bits: 16, seed: new Uint8Array(32).fill(9), mode: 'active', verifyKeys: keys.map((k) => k.publicKey) });
      const inputs = randomInputs(n, 10, 16, rng);
      await expect(runSecAggRound({
        inputs, config, rng, signingKeys: keys.map((k) => k.secretKey), dropouts: { beforeConsistency: all(n - t + 1) },
      })).rejects.toBeInstanceOf(ThresholdNotMet);
      // One fewer dropout: exactly t signatures, the round completes.
      const res = await runSecAggRound({
        inputs, config, rng, signingKeys: keys.map((k) => k.secretKey), dropouts: { beforeConsistency: all(n - t) },
      });
      expect(res.sum).toEqual(plainSum(inputs, all(n), 16));
    });
  });
});
