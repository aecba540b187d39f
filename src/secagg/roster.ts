/**
 * The round's roster commitment: a Merkle tree (RFC 6962, crypto/merkle.ts)
 * over one leaf per roster id, in id order. A leaf binds the id, the
 * member's Ed25519 public key (its identity and, in active mode, its SecAgg
 * verify key) and its enrolment certificate (crypto/certificate.ts; empty
 * when the deployment has none).
 *
 *   leaf(id) = "fedveil/v1/roster/leaf" || u32 id || key(32) || u32 len || certificate
 *
 * The root goes into the round commitment, so every signed statement of the
 * round covers the whole roster. A SecAgg+ client receives only its own and
 * its k neighbours' entries, each with an O(log n) inclusion proof; on the
 * full graph it receives every entry and recomputes the root itself.
 */
import { InvalidArgument } from '../errors.js';
import { MerkleTree, merkleLeafHash, verifyMerkleProof, type MerkleProof } from '../crypto/merkle.js';
import { framed, u32 } from './config.js';

const LEAF_LABEL = new TextEncoder().encode('fedveil/v1/roster/leaf');

/** One roster member as committed. */
export interface RosterEntry {
  readonly id: number;
  readonly key: Uint8Array;
  /** Encoded certificate (153 bytes) or empty. */
  readonly certificate: Uint8Array;
}

/** Hash of one roster leaf. */
export function rosterLeafHash(e: RosterEntry): Uint8Array {
  return merkleLeafHash(framed([LEAF_LABEL, u32(e.id), e.key, e.certificate]));
}

/** The coordinator's side: the whole roster, its root and per-member proofs. */
export class RosterCommitment {
  readonly root: Uint8Array;
  readonly size: number;
  private readonly tree: MerkleTree;
  private readonly entries: readonly RosterEntry[];

  constructor(entries: readonly RosterEntry[]) {
    if (entries.length < 1) throw new InvalidArgument('roster: needs at least one member');
    entries.forEach((e, i) => {
      if (e.id !== i + 1) throw new InvalidArgument(`roster: entry ${i} has id ${e.id}, expected ${i + 1}`);
      if (!(e.key instanceof Uint8Array) || e.key.length !== 32) throw new InvalidArgument(`roster: entry ${e.id} needs a 32-byte key`);
    });
    this.entries = entries.slice();
    this.tree = new MerkleTree(entries.map(rosterLeafHash));
    this.root = this.tree.root;
    this.size = entries.length;
  }

  entry(id: number): RosterEntry {
    const e = this.entries[id - 1];
    if (!e) throw new InvalidArgument(`roster: no member ${id}`);
    return e;
  }

  proof(id: number): MerkleProof {
    return this.tree.proof(id - 1);
  }
}

/** Is `entry` leaf `entry.id` of the roster with this root and size? Never throws. */
export function verifyRosterEntry(root: Uint8Array, size: number, entry: RosterEntry, proof: MerkleProof): boolean {
  if (!Number.isSafeInteger(entry.id) || entry.id < 1 || entry.id > size) return false;
  if (!proof || proof.index !== entry.id - 1 || proof.size !== size) return false;
  return verifyMerkleProof(root, rosterLeafHash(entry), proof);
}

/** Root of a complete roster (every entry known; the full-graph case). */
export function rosterRoot(entries: readonly RosterEntry[]): Uint8Array {
  return new RosterCommitment(entries).root;
}
