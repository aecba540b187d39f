/**
 * Binary Merkle tree over SHA-256 with inclusion proofs, in the shape of
 * RFC 6962 section 2.1 (Certificate Transparency): leaves are hashed with a
 * 0x00 prefix and interior nodes with 0x01, so a leaf can never be passed
 * off as an interior node (second-preimage resistance across levels); the
 * tree over n leaves splits at the largest power of two below n, so every
 * n has exactly one tree and no leaf is duplicated to pad it.
 *
 * Used to commit a round's roster: the root is bound into every signed
 * statement of the round, and a client that receives only its neighbours'
 * entries checks each against the root with an O(log n) proof.
 */
import { InvalidArgument } from '../errors.js';
import { abytes, aint } from '../util/assert.js';
import { sha256 } from './hash.js';

/** Inclusion proof of leaf `index` in a tree of `size` leaves: sibling hashes, bottom-up. */
export interface MerkleProof {
  readonly index: number;
  readonly size: number;
  readonly path: readonly Uint8Array[];
}

const LEAF = 0x00;
const NODE = 0x01;

/** RFC 6962 leaf hash: SHA-256(0x00 || data). */
export function merkleLeafHash(data: Uint8Array): Uint8Array {
  const buf = new Uint8Array(1 + data.length);
  buf[0] = LEAF;
  buf.set(data, 1);
  return sha256(buf);
}

function nodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  const buf = new Uint8Array(65);
  buf[0] = NODE;
  buf.set(left, 1);
  buf.set(right, 33);
  return sha256(buf);
}

/** Largest power of two strictly below n (n >= 2). */
function split(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** A Merkle tree over already-hashed leaves (merkleLeafHash), kept level by level for proofs. */
export class MerkleTree {
  readonly size: number;
  readonly root: Uint8Array;
  private readonly leaves: readonly Uint8Array[];
  /** Hash of every subtree, by its leaf range: a tree of n leaves has 2n - 1 of them, so proofs are O(log n) lookups. */
  private readonly nodes = new Map<number, Uint8Array>();

  constructor(leafHashes: readonly Uint8Array[]) {
    if (!Array.isArray(leafHashes) || leafHashes.length === 0) throw new InvalidArgument('MerkleTree: needs at least one leaf');
    leafHashes.forEach((h, i) => abytes(`leafHashes[${i}]`, h, 32));
    this.leaves = leafHashes.slice();
    this.size = leafHashes.length;
    this.root = this.hashRange(0, this.size);
  }

  private hashRange(from: number, to: number): Uint8Array {
    const n = to - from;
    if (n === 1) return this.leaves[from]!;
    const key = from * this.leaves.length + to;
    const hit = this.nodes.get(key);
    if (hit) return hit;
    const k = split(n);
    const h = nodeHash(this.hashRange(from, from + k), this.hashRange(from + k, to));
    this.nodes.set(key, h);
    return h;
  }

  /** Inclusion proof of leaf `index` (RFC 6962 audit path). */
  proof(index: number): MerkleProof {
    aint('index', index, 0, this.size - 1);
    const path: Uint8Array[] = [];
    let from = 0;
    let to = this.size;
    const stack: Uint8Array[] = [];
    // Walk down, remembering the sibling subtree at each level; the audit path is that list bottom-up.
    while (to - from > 1) {
      const k = split(to - from);
      if (index < from + k) {
        stack.push(this.hashRange(from + k, to));
        to = from + k;
      } else {
        stack.push(this.hashRange(from, from + k));
        from = from + k;
      }
    }
    for (let i = stack.length - 1; i >= 0; i--) path.push(stack[i]!);
    return Object.freeze({ index, size: this.size, path: Object.freeze(path) });
  }
}

/** Root computed from a leaf hash and its proof, or undefined when the proof is malformed. */
function rootFromProof(leafHash: Uint8Array, proof: MerkleProof): Uint8Array | undefined {
  const { index, size, path } = proof;
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0 || index >= size || !Array.isArray(path)) return undefined;
  // Recompute the split points top-down, then fold the path bottom-up.
  const sides: boolean[] = [];
  let from = 0;
  let to = size;
  while (to - from > 1) {
    const k = split(to - from);
    const left = index < from + k;
    sides.push(left);
    if (left) to = from + k;
    else from = from + k;
  }
  if (sides.length !== path.length) return undefined;
  let h = leafHash;
  for (let i = 0; i < path.length; i++) {
    const sibling = path[i];
    if (!(sibling instanceof Uint8Array) || sibling.length !== 32) return undefined;
    const leftChild = sides[sides.length - 1 - i]!;
    h = leftChild ? nodeHash(h, sibling) : nodeHash(sibling, h);
  }
  return h;
}

/** Does `proof` show that `leafHash` is leaf `proof.index` of the tree with this root? Never throws. */
export function verifyMerkleProof(root: Uint8Array, leafHash: Uint8Array, proof: MerkleProof): boolean {
  if (!(root instanceof Uint8Array) || root.length !== 32 || !(leafHash instanceof Uint8Array) || leafHash.length !== 32) return false;
  const got = rootFromProof(leafHash, proof);
  if (!got) return false;
  let d = 0;
  for (let i = 0; i < 32; i++) d |= got[i]! ^ root[i]!;
  return d === 0;
}
