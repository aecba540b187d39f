/**
 * The client's mask PRG backends (WebCrypto for the mask PRG in browsers). On Node the client masks with the synchronous node:crypto
 * AES-CTR; browsers have no node:crypto and use the async WebCrypto path.
 * Node also has `crypto.subtle`, so forcing a client's `prgBackend` to
 * 'webcrypto' (or 'noble') runs the browser path here. Rounds with the same
 * deterministic seed must give byte-identical MaskedInput frames on every
 * backend, and the exact plain sum of the survivors' inputs.
 */
import { deterministicRandom } from '../../src/crypto/random.js';
import { prgBackend, type PrgBackend } from '../../src/crypto/prg.js';
import { makeConfig } from '../../src/secagg/config.js';
import { clientMaskBackend, clientMaskStats, type SecAggClient } from '../../src/secagg/client.js';
import { runSecAggRound } from '../../src/secagg/runner.js';
import type { DropoutSchedule, SecAggConfig } from '../../src/secagg/types.js';
import { plainSum, randomInputs } from './helpers.js';

interface Setting {
  name: string;
  n: number;
  threshold: number;
  dim: number;
  bits: number;
  graph: 'full' | 'harary';
  degree?: number;
  dropouts?: DropoutSchedule;
}

const SETTINGS: Setting[] = [
  { name: 'full graph, b = 32', n: 5, threshold: 3, dim: 1000, bits: 32, graph: 'full' },
  { name: 'full graph, b = 20, one dropout before masking', n: 6, threshold: 3, dim: 777, bits: 20, graph: 'full', dropouts: { beforeMaskedInput: [2] } },
  { name: 'harary k = 4, b = 16, dropouts', n: 12, threshold: 3, dim: 500, bits: 16, graph: 'harary', degree: 4, dropouts: { beforeShareKeys: [7], beforeMaskedInput: [3] } },
  // > 2^18 words: several 1 MiB WebCrypto chunks (counter continuation across calls).
  { name: 'long vector (3 WebCrypto chunks), b = 24', n: 3, threshold: 2, dim: 600_001, bits: 24, graph: 'full' },
];

function config(s: Setting, seedByte: number): SecAggConfig {
  return makeConfig({
    n: s.n, threshold: s.threshold, dim: s.dim, bits: s.bits, graph: s.graph,
    ...(s.degree !== undefined ? { degree: s.degree } : {}), seed: new Uint8Array(32).fill(seedByte),
  });
}

/** One round with every client forced to `backend` (undefined = default); returns the result and each client's MaskedInput frame. */
async function round(s: Setting, seed: number, backend: PrgBackend | undefined) {
  const cfg = config(s, seed & 0xff);
  const inputs = randomInputs(s.n, s.dim, s.bits, deterministicRandom(seed));
  const masked = new Map<number, Uint8Array>();
  const onClientCreated = (c: SecAggClient): void => {
    c.prgBackend = backend;
    const handle = c.handle.bind(c);
    c.handle = async (frame) => {
      const stage = c.stage;
      const out = await handle(frame);
      // The reply that moves a client from ShareKeys on is its MaskedInput frame.
      if (stage === 'ShareKeys' && c.stage === 'MaskedInputCollection') masked.set(c.id, out[0]!.frame);
      return out;
    };
  };
  const res = await runSecAggRound({
    inputs, config: cfg, rng: deterministicRandom(seed + 1), onClientCreated, ...(s.dropouts ? { dropouts: s.dropouts } : {}),
  });
  return { res, masked, inputs };
}

describe('client mask PRG backend', () => {
  test('on Node the default is the synchronous node:crypto path', () => {
    expect(prgBackend()).toBe('node');
    expect(clientMaskBackend()).toBe('node');
    expect(typeof globalThis.crypto?.subtle?.encrypt).toBe('function');
  });

  for (const s of SETTINGS) {
    test(`${s.name}: WebCrypto and noble give the node path's masked inputs and the exact sum`, async () => {
      const seed = 1000 + s.dim;
      const before = clientMaskStats();
      const node = await round(s, seed, undefined);
      const afterNode = clientMaskStats();
      const web = await round(s, seed, 'webcrypto');
      const afterWeb = clientMaskStats();

      // Exact sums through runSecAggRound, equal across backends.
      expect(node.res.survivors).toEqual(web.res.survivors);
      expect(node.res.survivors.length).toBeGreaterThanOrEqual(s.threshold);
      const expected = plainSum(node.inputs, node.res.survivors, s.bits);
      expect(Buffer.from(node.res.sum.buffer).equals(Buffer.from(expected.buffer))).toBe(true);
      expect(Buffer.from(web.res.sum.buffer).equals(Buffer.from(expected.buffer))).toBe(true);

      // Byte-identical masked inputs (same seed => same keys and masks).
      expect([...web.masked.keys()].sort()).toEqual([...node.masked.keys()].sort());
      expect(node.masked.size).toBe(node.res.survivors.length);
      for (const [id, y] of node.masked) expect(Buffer.from(web.masked.get(id)!).equals(Buffer.from(y))).toBe(true);

      // The forced path really ran: the node run used only 'node', the forced run only 'webcrypto'.
      expect(afterNode.node - before.node).toBeGreaterThanOrEqual(node.masked.size);
      expect(afterNode.webcrypto).toBe(before.webcrypto);
      expect(afterWeb.webcrypto - afterNode.webcrypto).toBeGreaterThanOrEqual(web.masked.size);
      expect(afterWeb.node).toBe(afterNode.node);

      if (s.dim <= 1000) {
        const noble = await round(s, seed, 'noble');
        expect(Buffer.from(noble.res.sum.buffer).equals(Buffer.from(expected.buffer))).toBe(true);
        for (const [id, y] of node.masked) expect(Buffer.from(noble.masked.get(id)!).equals(Buffer.from(y))).toBe(true);
      }
    });
  }
});
