import { InvalidArgument } from '../../src/errors.js';
import { SecAggClient } from '../../src/secagg/client.js';
import { makeConfig, roundTag } from '../../src/secagg/config.js';
import { neighbourGraph, relabelling } from '../../src/secagg/graph.js';
import { expectFedveilError } from '../expect-error.js';

const seed = new Uint8Array(32).fill(5);

describe('makeConfig', () => {
  test('validates ranges and the threshold bound of each mode', () => {
    const ok = makeConfig({ n: 10, threshold: 6, dim: 4, seed });
    expect(ok).toMatchObject({ n: 10, threshold: 6, degree: 9, graph: 'full', mode: 'semi-honest', bits: 32 });
    expect(Object.isFrozen(ok)).toBe(true);
    const bad = [
      { n: 1, threshold: 1, dim: 4 },
      { n: 10, threshold: 1, dim: 4 },
      { n: 10, threshold: 11, dim: 4 },
      { n: 10, threshold: 5, dim: 0 },
      { n: 10, threshold: 5, dim: 4, bits: 33 },
      { n: 10, threshold: 5, dim: 4, graph: 'harary' as const }, // degree missing
      { n: 10, threshold: 3, dim: 4, graph: 'harary' as const, degree: 3 }, // odd
      { n: 10, threshold: 3, dim: 4, graph: 'harary' as const, degree: 9 }, // that is the full graph
      { n: 10, threshold: 6, dim: 4, graph: 'harary' as const, degree: 4 }, // t > k + 1
      { n: 10, threshold: 5, dim: 4, mode: 'active' as const, verifyKeys: Array.from({ length: 10 }, () => new Uint8Array(32)) }, // 2t <= n
      { n: 10, threshold: 8, dim: 4, mode: 'active' as const }, // no PKI
      { n: 10, threshold: 5, dim: 4, seed: new Uint8Array(16) },
    ];
    for (const b of bad) expectFedveilError(() => makeConfig({ seed, ...b }), InvalidArgument, 'INVALID_ARGUMENT');
  });

  test('the round tag changes with every parameter', () => {
    const base = { n: 10, threshold: 6, dim: 4, seed };
    const tags = [
      base, { ...base, threshold: 7 }, { ...base, dim: 5 }, { ...base, bits: 16 }, { ...base, round: 1 },
      { ...base, seed: new Uint8Array(32).fill(6) }, { ...base, graph: 'harary' as const, degree: 4, threshold: 3 },
    ].map((c) => Buffer.from(roundTag(makeConfig(c))).toString('hex'));
    expect(new Set(tags).size).toBe(tags.length);
  });
});

describe('SecAggClient input', () => {
  test('every entry must be below 2^bits (and any 32-bit value is allowed at bits = 32)', () => {
    const config = makeConfig({ n: 3, threshold: 2, dim: 4, bits: 8, seed });
    expect(() => new SecAggClient({ id: 1, config, input: Uint32Array.of(0, 255, 1, 2) })).not.toThrow();
    expectFedveilError(() => new SecAggClient({ id: 1, config, input: Uint32Array.of(0, 1, 256, 2) }), InvalidArgument, 'INVALID_ARGUMENT');
    expectFedveilError(() => new SecAggClient({ id: 1, config, input: Uint32Array.of(2 ** 32 - 1, 0, 0, 0) }), InvalidArgument, 'INVALID_ARGUMENT');
    const wide = makeConfig({ n: 3, threshold: 2, dim: 1, bits: 32, seed });
    expect(() => new SecAggClient({ id: 2, config: wide, input: Uint32Array.of(2 ** 32 - 1) })).not.toThrow();
  });
});

describe('neighbour graphs', () => {
  test('Harary graph: k-regular, symmetric, relabelled by the seed, deterministic', () => {
    const n = 50;
    const k = 8;
    const g = neighbourGraph(makeConfig({ n, threshold: 5, dim: 1, graph: 'harary', degree: k, seed }));
    for (let u = 1; u <= n; u++) {
      const nb = g.neighbours(u);
      expect(nb).toHaveLength(k);
      expect(nb).not.toContain(u);
      for (const v of nb) {
        expect(g.neighbours(v)).toContain(u);
        expect(g.adjacent(u, v)).toBe(true);
      }
      expect(g.holders(u)).toEqual([...nb, u].sort((a, b) => a - b));
    }
    const p1 = relabelling(seed, 0, n);
    expect(Array.from(p1).sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i + 1));
    expect(relabelling(seed, 0, n)).toEqual(p1);
    expect(relabelling(seed, 1, n)).not.toEqual(p1);
    // Not the identity ring: the relabelling mixes ids.
    expect(g.neighbours(1)).not.toEqual([2, 3, 4, 5, 47, 48, 49, 50]);
  });

  test('full graph: everyone else', () => {
    const g = neighbourGraph(makeConfig({ n: 6, threshold: 3, dim: 1, seed }));
    expect(g.neighbours(3)).toEqual([1, 2, 4, 5, 6]);
    expect(g.holders(3)).toEqual([1, 2, 3, 4, 5, 6]);
  });
});
