/**
 * Neighbour-only key distribution (SecAgg+, Bell et al. 2020): what one
 * client receives in a round depends on its degree k, not on the roster
 * size n, except for the survivor bitmap (n/8 bytes, sent twice in active
 * mode), which is what the consistency signatures cover. Measured in bytes,
 * exactly, by the in-memory runner; the roster entries a client receives
 * with its round grow as O(k log n) (one proof hash per tree level).
 */
import { makeConfig } from '../../src/secagg/config.js';
import { runSecAggRound } from '../../src/secagg/runner.js';
import { RosterCommitment } from '../../src/secagg/roster.js';
import { neighbourGraph } from '../../src/secagg/graph.js';
import { ed25519KeyPair } from '../../src/crypto/signatures.js';
import { deterministicRandom, randomBytes } from '../../src/crypto/random.js';
import { encodeMessage } from '../../src/transport/wire.js';

const K = 40;
const T = 21; // 2t > k + 1: active mode
const DIM = 8;

/**
 * Bytes client 1 receives in a complete active round. Only client 1 and its
 * k neighbours run (the others are offline from the start): client 1 then
 * hears from every one of its share holders, which is the most it can
 * receive, while the round costs 41 clients' work instead of n's. Every
 * live client keeps >= t live share holders on the Harary ring
 * (positions p-20..p+20), so the round completes.
 */
async function clientDownload(n: number): Promise<number> {
  const rng = deterministicRandom(n);
  const signing = Array.from({ length: n }, () => ed25519KeyPair(rng));
  const config = makeConfig({ n, threshold: T, dim: DIM, bits: 16, graph: 'harary', degree: K, mode: 'active', verifyKeys: signing.map((s) => s.publicKey), seed: randomBytes(32, rng) });
  const live = new Set(neighbourGraph(config).holders(1));
  const offline = Array.from({ length: n }, (_, i) => i + 1).filter((id) => !live.has(id));
  const inputs = Array.from({ length: n }, () => new Uint32Array(DIM));
  const res = await runSecAggRound({ config, inputs, signingKeys: signing.map((s) => s.secretKey), rng, dropouts: { beforeAdvertise: offline } });
  expect(res.survivors).toEqual([...live].sort((a, b) => a - b));
  return res.stats.bytesDown[0]!;
}

function rosterBytes(n: number): number {
  const rng = deterministicRandom(7);
  const entries = Array.from({ length: n }, (_, i) => ({ id: i + 1, key: randomBytes(32, rng), certificate: randomBytes(153, rng) }));
  const roster = new RosterCommitment(entries);
  const graph = neighbourGraph({ n, graph: 'harary', degree: K, seed: new Uint8Array(32), round: 1 });
  const wire = graph.holders(1).map((id) => ({ id, key: roster.entry(id).key, cert: roster.entry(id).certificate, proof: roster.proof(id).path.slice() }));
  return encodeMessage({ t: 'round', round: 1, index: 1, config: { n, threshold: T, minSurvivors: T, bits: 16, dim: DIM, graph: 'harary', degree: K, mode: 'active', seed: new Uint8Array(32), stageTimeoutMs: 1, maxFrameBytes: 1, roster: { root: roster.root, entries: wire } }, task: { kind: 'vector' } }).length;
}

describe('per-client download with neighbour-only key distribution', () => {
  test('at n = 2000 and k = 40 a client receives what it does at n = 500, plus the survivor bitmaps and wider id encodings', async () => {
    const small = await clientDownload(500);
    const large = await clientDownload(2000);
    // Per share holder: one advertisement (~190 B), one sealed share bundle (~120 B),
    // one consistency signature (~70 B); plus two bitmaps of ceil(n/8) bytes.
    const bound = (n: number) => (K + 1) * 450 + 2 * Math.ceil(n / 8) + 2048;
    expect(large).toBeLessThanOrEqual(bound(2000));
    // The growth is the two bitmaps, plus msgpack's wider encodings of ids above 255 and 65535
    // (at most a few bytes per holder entry).
    expect(large - small).toBeLessThanOrEqual(2 * (Math.ceil(2000 / 8) - Math.ceil(500 / 8)) + 4 * (K + 1) + 64);
    expect(large - small).toBeGreaterThanOrEqual(2 * (Math.ceil(2000 / 8) - Math.ceil(500 / 8)));
  }, 120000);

  test("the round's roster entries grow by one proof hash per holder per tree level", () => {
    const at500 = rosterBytes(500);
    const at2000 = rosterBytes(2000);
    expect(at2000 - at500).toBeLessThanOrEqual((K + 1) * 2 * 35);
    expect(at2000).toBeLessThanOrEqual((K + 1) * (260 + 35 * 11));
  });
});
