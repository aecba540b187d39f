/**
 * Neighbour graphs of SecAgg (complete graph, Bonawitz et al. 2017) and
 * SecAgg+ (Bell et al. 2020): a Harary graph H(k, n) - clients on a ring,
 * each linked to the k/2 nearest on either side - whose positions are a
 * uniformly random permutation of the ids drawn from the public round seed.
 * Everyone (server and clients) derives the same graph from the seed; the
 * relabelling is what makes the neighbourhoods random for the hypergeometric
 * analysis of the parameter finder, so it must not be chosen by the server
 * after it knows who is corrupt (the seed is fixed in the config, before the
 * round, and bound into the round tag).
 *
 * Permutation: Fisher-Yates driven by a ChaCha20 keystream keyed by
 * HKDF(seed, "secagg/graph-relabel", round), with rejection sampling (no
 * modulo bias).
 */
import { chacha20 } from '@noble/ciphers/chacha.js';
import { deriveKey } from './primitives.js';
import { u32 } from './config.js';
import type { SecAggConfig } from './types.js';

export interface NeighbourGraph {
  readonly n: number;
  readonly degree: number;
  /** The k neighbours of `id`, ascending. */
  neighbours(id: number): number[];
  /** The share holders of `id`: its neighbours and itself, ascending. */
  holders(id: number): number[];
  /** Whether u and v are neighbours (u != v). */
  adjacent(u: number, v: number): boolean;
}

/** A keystream of uniform 32-bit words. */
function wordStream(key: Uint8Array): () => number {
  const nonce = new Uint8Array(12);
  let counter = 0;
  let words = new Uint32Array(0);
  let pos = 0;
  return () => {
    if (pos >= words.length) {
      const block = chacha20(key, nonce, new Uint8Array(4096), undefined, counter);
      counter += 4096 / 64;
      words = new Uint32Array(block.buffer, block.byteOffset, 1024);
      pos = 0;
    }
    return words[pos++]!;
  };
}

/** The public random relabelling: perm[position] = id (1-based ids). */
export function relabelling(seed: Uint8Array, round: number, n: number): Uint32Array {
  const key = deriveKey('secagg/graph-relabel', seed, [u32(round), u32(n)], 32);
  const next = wordStream(key);
  const perm = new Uint32Array(n);
  for (let i = 0; i < n; i++) perm[i] = i + 1;
  for (let i = n - 1; i > 0; i--) {
    const bound = i + 1;
    const limit = 4294967296 - (4294967296 % bound);
    let w: number;
    do w = next(); while (w >= limit);
    const j = w % bound;
    const tmp = perm[i]!;
    perm[i] = perm[j]!;
    perm[j] = tmp;
  }
  return perm;
}

function fullGraph(n: number): NeighbourGraph {
  const all = Array.from({ length: n }, (_, i) => i + 1);
  return Object.freeze({
    n,
    degree: n - 1,
    neighbours: (id: number) => all.filter((v) => v !== id),
    holders: () => all.slice(),
    adjacent: (u: number, v: number) => u !== v,
  });
}

function hararyGraph(n: number, k: number, seed: Uint8Array, round: number): NeighbourGraph {
  const perm = relabelling(seed, round, n);
  const position = new Uint32Array(n + 1);
  for (let p = 0; p < n; p++) position[perm[p]!] = p;
  const half = k / 2;
  const neighbours = (id: number): number[] => {
    const p = position[id]!;
    const out: number[] = [];
    for (let j = 1; j <= half; j++) {
      out.push(perm[(p + j) % n]!, perm[(p - j + n) % n]!);
    }
    return out.sort((a, b) => a - b);
  };
  return Object.freeze({
    n,
    degree: k,
    neighbours,
    holders: (id: number) => [...neighbours(id), id].sort((a, b) => a - b),
    adjacent: (u: number, v: number) => {
      if (u === v) return false;
      const d = Math.abs(position[u]! - position[v]!);
      return Math.min(d, n - d) <= half;
    },
  });
}

/** The neighbour graph of a round (same on every party). */
export function neighbourGraph(config: Pick<SecAggConfig, 'n' | 'graph' | 'degree' | 'seed' | 'round'>): NeighbourGraph {
  return config.graph === 'full' ? fullGraph(config.n) : hararyGraph(config.n, config.degree, config.seed, config.round);
}
