/**
 * Partitions of a labelled dataset across simulated clients.
 *
 * - IID: a uniformly random permutation cut into equal parts.
 * - Shards (McMahan et al., "Communication-Efficient Learning of Deep
 *   Networks from Decentralized Data", AISTATS 2017, section 3): sort by
 *   label, cut into `clients * shardsPerClient` shards of equal size, give
 *   each client `shardsPerClient` random shards. For MNIST's 60,000
 *   examples and 100 clients: 200 shards of 300, 2 per client.
 * - Dirichlet(alpha) over labels (Hsu, Qi, Brown 2019; Yurochkin et al.
 *   2019): for each class, client proportions p ~ Dir(alpha); the class's
 *   examples (in random order) are cut according to p.
 *
 * All randomness comes from a RandomSource (I7). A simulation may pass a
 * deterministicRandom seed for reproducibility: the split is a simulation
 * artefact, not part of a deployment.
 */
import { InvalidArgument } from '../errors.js';
import { randomBelow, randomUnit, systemRandom, type RandomSource } from '../crypto/random.js';
import { aint, apositive } from '../util/assert.js';

/** Fisher-Yates shuffle in place. */
export function shuffleInPlace<T extends { length: number; [i: number]: number }>(a: T, rng: RandomSource = systemRandom): T {
  for (let i = a.length - 1; i > 0; i--) {
    const j = randomBelow(i + 1, rng);
    const t = a[i]!;
    a[i] = a[j]!;
    a[j] = t;
  }
  return a;
}

function permutation(n: number, rng: RandomSource): Uint32Array {
  const p = new Uint32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  return shuffleInPlace(p, rng);
}

/** IID: `clients` disjoint parts of sizes differing by at most one, covering all n examples. */
export function splitIid(n: number, clients: number, rng: RandomSource = systemRandom): Uint32Array[] {
  aint('n', n, 1);
  aint('clients', clients, 1, n);
  const p = permutation(n, rng);
  const parts: Uint32Array[] = [];
  for (let c = 0; c < clients; c++) {
    parts.push(p.slice(Math.floor((c * n) / clients), Math.floor(((c + 1) * n) / clients)));
  }
  return parts;
}

/**
 * McMahan shards: sort by label (stable, ties in random order), cut into
 * `clients * shardsPerClient` shards of `floor(n / shards)` examples, deal
 * shards at random. Examples beyond `shards * shardSize` are left out.
 */
export function splitShards(labels: Uint8Array, clients: number, shardsPerClient = 2, rng: RandomSource = systemRandom): Uint32Array[] {
  aint('clients', clients, 1);
  aint('shardsPerClient', shardsPerClient, 1);
  const shards = clients * shardsPerClient;
  const shardSize = Math.floor(labels.length / shards);
  if (shardSize < 1) throw new InvalidArgument(`splitShards: ${labels.length} examples cannot make ${shards} shards`);
  const order = Array.from(permutation(labels.length, rng)).sort((a, b) => labels[a]! - labels[b]!);
  const dealt = permutation(shards, rng);
  const parts: Uint32Array[] = [];
  for (let c = 0; c < clients; c++) {
    const part = new Uint32Array(shardsPerClient * shardSize);
    for (let s = 0; s < shardsPerClient; s++) {
      const shard = dealt[c * shardsPerClient + s]!;
      for (let k = 0; k < shardSize; k++) part[s * shardSize + k] = order[shard * shardSize + k]!;
    }
    parts.push(part);
  }
  return parts;
}

/** A standard normal deviate (Box-Muller). */
function standardNormal(rng: RandomSource): number {
  const u = 1 - randomUnit(rng); // (0, 1]
  const v = randomUnit(rng);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** A Gamma(shape, 1) deviate (Marsaglia & Tsang 2000; boosted for shape < 1). */
export function sampleGamma(shape: number, rng: RandomSource = systemRandom): number {
  apositive('shape', shape);
  if (shape < 1) {
    const u = 1 - randomUnit(rng);
    return sampleGamma(shape + 1, rng) * Math.pow(u, 1 / shape);
  }
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x: number;
    let v: number;
    do {
      x = standardNormal(rng);
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = 1 - randomUnit(rng);
    if (Math.log(u) < 0.5 * x * x + d - d * v + d * Math.log(v)) return d * v;
  }
}

/** A draw from the symmetric Dirichlet(alpha) over k categories. */
export function sampleDirichlet(alpha: number, k: number, rng: RandomSource = systemRandom): Float64Array {
  aint('k', k, 1);
  const g = new Float64Array(k);
  let sum = 0;
  for (let i = 0; i < k; i++) {
    g[i] = sampleGamma(alpha, rng);
    sum += g[i]!;
  }
  // All-zero draws are possible in floating point for tiny alpha: fall back to one category.
  if (sum === 0) {
    g[randomBelow(k, rng)] = 1;
    return g;
  }
  for (let i = 0; i < k; i++) g[i]! /= sum;
  return g;
}

/**
 * Dirichlet(alpha) label skew. Every example is assigned to exactly one
 * client; some clients may receive very few (small alpha = more skew).
 * `minPerClient` (default 1) re-draws the split until every client has at
 * least that many examples (at most 100 attempts).
 */
export function splitDirichlet(labels: Uint8Array, clients: number, alpha: number, rng: RandomSource = systemRandom, minPerClient = 1): Uint32Array[] {
  aint('clients', clients, 1);
  apositive('alpha', alpha);
  aint('minPerClient', minPerClient, 0);
  let classes = 0;
  for (let i = 0; i < labels.length; i++) classes = Math.max(classes, labels[i]! + 1);
  const byClass: number[][] = Array.from({ length: classes }, () => []);
  for (let i = 0; i < labels.length; i++) byClass[labels[i]!]!.push(i);
  for (let attempt = 0; attempt < 100; attempt++) {
    const parts: number[][] = Array.from({ length: clients }, () => []);
    for (const idx of byClass) {
      const members = Uint32Array.from(idx);
      shuffleInPlace(members, rng);
      const p = sampleDirichlet(alpha, clients, rng);
      let start = 0;
      let cum = 0;
      for (let c = 0; c < clients; c++) {
        cum += p[c]!;
        const end = c === clients - 1 ? members.length : Math.min(members.length, Math.round(cum * members.length));
        for (let k = start; k < end; k++) parts[c]!.push(members[k]!);
        start = Math.max(start, end);
      }
    }
    if (parts.every((p) => p.length >= minPerClient)) return parts.map((p) => Uint32Array.from(p));
  }
  throw new InvalidArgument(`splitDirichlet: could not give every one of ${clients} clients >= ${minPerClient} examples with alpha ${alpha}; raise alpha or lower the client count`);
}
