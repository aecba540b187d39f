import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { MerkleTree, merkleLeafHash, verifyMerkleProof } from '../../src/crypto/merkle.js';
import { InvalidArgument } from '../../src/errors.js';
import { hex, toHex } from './helpers.js';
import { expectFedveilError } from '../expect-error.js';

const vectors = JSON.parse(readFileSync(new URL('../vectors/rfc6962-merkle.json', import.meta.url), 'utf8')) as { leaves: string[]; roots: string[] };

describe('Merkle tree (RFC 6962)', () => {
  test('roots of the first 1..8 reference leaves equal the published values', () => {
    const leaves = vectors.leaves.map((l) => merkleLeafHash(hex(l)));
    for (let n = 1; n <= 8; n++) expect(toHex(new MerkleTree(leaves.slice(0, n)).root)).toBe(vectors.roots[n - 1]);
  });

  test('every leaf of every tree size up to 40 has a proof that verifies, and only at its own index', () => {
    for (let n = 1; n <= 40; n++) {
      const leaves = Array.from({ length: n }, (_, i) => merkleLeafHash(Uint8Array.of(i, n)));
      const tree = new MerkleTree(leaves);
      for (let i = 0; i < n; i++) {
        const p = tree.proof(i);
        expect(verifyMerkleProof(tree.root, leaves[i]!, p)).toBe(true);
        if (n > 1) {
          const other = (i + 1) % n;
          expect(verifyMerkleProof(tree.root, leaves[other]!, p)).toBe(false);
          expect(verifyMerkleProof(tree.root, leaves[i]!, { ...p, index: other })).toBe(false);
        }
      }
    }
  });

  test('a proof with any sibling bit flipped, a wrong size or a truncated path does not verify', () => {
    fc.assert(fc.property(fc.integer({ min: 2, max: 300 }), fc.nat(), fc.nat(), fc.nat(7), (n, a, b, bit) => {
      const leaves = Array.from({ length: n }, (_, i) => merkleLeafHash(Uint8Array.of(i & 255, i >> 8)));
      const tree = new MerkleTree(leaves);
      const i = a % n;
      const p = tree.proof(i);
      const level = b % p.path.length;
      const path = p.path.map((x) => Uint8Array.from(x));
      const sib = path[level]!;
      sib[bit % 32] = sib[bit % 32]! ^ (1 << bit);
      expect(verifyMerkleProof(tree.root, leaves[i]!, { ...p, path })).toBe(false);
      expect(verifyMerkleProof(tree.root, leaves[i]!, { ...p, path: p.path.slice(1) })).toBe(false);
      expect(verifyMerkleProof(tree.root, leaves[i]!, { ...p, size: n + 1 === 2 * n ? n + 2 : 2 * n })).toBe(false);
    }), { numRuns: 200, seed: 7 });
  });

  test('malformed proofs are rejected without throwing', () => {
    const leaves = [merkleLeafHash(Uint8Array.of(1)), merkleLeafHash(Uint8Array.of(2))];
    const tree = new MerkleTree(leaves);
    const bad = [
      { index: -1, size: 2, path: tree.proof(0).path },
      { index: 0, size: 2, path: [new Uint8Array(31)] },
      { index: 0, size: 2, path: 'x' as unknown as Uint8Array[] },
      { index: 2, size: 2, path: tree.proof(1).path },
    ];
    for (const p of bad) expect(verifyMerkleProof(tree.root, leaves[0]!, p)).toBe(false);
  });

  test('a tree needs at least one 32-byte leaf hash', () => {
    expectFedveilError(() => new MerkleTree([]), InvalidArgument, 'INVALID_ARGUMENT');
    expectFedveilError(() => new MerkleTree([new Uint8Array(31)]), InvalidArgument, 'INVALID_ARGUMENT');
  });
});
