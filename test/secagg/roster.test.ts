import { RosterCommitment, rosterRoot, verifyRosterEntry, type RosterEntry } from '../../src/secagg/roster.js';
import { deterministicRandom, randomBytes } from '../../src/crypto/random.js';
import { InvalidArgument } from '../../src/errors.js';
import { expectFedveilError } from '../expect-error.js';

const rng = deterministicRandom(41);
const entries: RosterEntry[] = Array.from({ length: 13 }, (_, i) => ({ id: i + 1, key: randomBytes(32, rng), certificate: i % 2 ? randomBytes(153, rng) : new Uint8Array(0) }));

describe('roster commitment', () => {
  test('every member proves its own entry at its own id, and the full list gives the same root', () => {
    const roster = new RosterCommitment(entries);
    for (const e of entries) expect(verifyRosterEntry(roster.root, 13, e, roster.proof(e.id))).toBe(true);
    expect(Buffer.from(rosterRoot(entries)).equals(Buffer.from(roster.root))).toBe(true);
  });

  test('a swapped key, another certificate, another id or another roster size does not verify', () => {
    const roster = new RosterCommitment(entries);
    const e = entries[4]!;
    const p = roster.proof(5);
    expect(verifyRosterEntry(roster.root, 13, { ...e, key: entries[5]!.key }, p)).toBe(false);
    expect(verifyRosterEntry(roster.root, 13, { ...e, certificate: entries[5]!.certificate }, p)).toBe(false);
    expect(verifyRosterEntry(roster.root, 13, { ...e, id: 6 }, roster.proof(6))).toBe(false);
    expect(verifyRosterEntry(roster.root, 13, { ...e, id: 6 }, p)).toBe(false);
    expect(verifyRosterEntry(roster.root, 14, e, p)).toBe(false);
  });

  test('ids must be 1..n in order', () => {
    expectFedveilError(() => new RosterCommitment([entries[1]!, entries[0]!]), InvalidArgument, 'INVALID_ARGUMENT');
    expectFedveilError(() => new RosterCommitment([]), InvalidArgument, 'INVALID_ARGUMENT');
  });
});
