import { deterministicRandom, randomBytes } from '../../src/crypto/random.js';
import { pairMaskKey, selfMaskKey, sessionId, shareKey } from '../../src/secagg/derive.js';
import type { AdvertisedKeys } from '../../src/secagg/types.js';

const rng = deterministicRandom(99);
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

test('I4: mask and share keys are bound to purpose, session and both ids', () => {
  const shared = randomBytes(32, rng);
  const sid = randomBytes(32, rng);
  const sid2 = randomBytes(32, rng);
  const base = pairMaskKey(shared, sid, 3, 8);
  // Both endpoints derive the same key (order of ids does not matter)...
  expect(hex(pairMaskKey(shared, sid, 8, 3))).toBe(hex(base));
  // ...and any change of session, pair or purpose gives an unrelated key.
  const others = [
    pairMaskKey(shared, sid2, 3, 8),
    pairMaskKey(shared, sid, 3, 9),
    pairMaskKey(shared, sid, 2, 8),
    shareKey(shared, sid, 3, 8).subarray(0, 16),
    selfMaskKey(shared, sid, 3),
    selfMaskKey(shared, sid, 8),
  ].map(hex);
  expect(new Set([hex(base), ...others]).size).toBe(others.length + 1);
});

test('I5: the session id commits to the round tag and every advertised key', () => {
  const tag = randomBytes(32, rng);
  const keys: AdvertisedKeys[] = [1, 2, 3].map((id) => ({
    id, cPk: randomBytes(32, rng), sPk: randomBytes(32, rng), seedCommit: randomBytes(32, rng), sig: new Uint8Array(0),
  }));
  const sid = hex(sessionId(tag, keys));
  const variants: AdvertisedKeys[][] = [
    keys.slice(0, 2),
    keys.map((k, i) => (i === 1 ? { ...k, cPk: randomBytes(32, rng) } : k)),
    keys.map((k, i) => (i === 2 ? { ...k, sPk: randomBytes(32, rng) } : k)),
    keys.map((k, i) => (i === 0 ? { ...k, seedCommit: randomBytes(32, rng) } : k)),
    keys.map((k, i) => (i === 0 ? { ...k, id: 4 } : k)),
  ];
  for (const v of variants) expect(hex(sessionId(tag, v))).not.toBe(sid);
  expect(hex(sessionId(randomBytes(32, rng), keys))).not.toBe(sid);
  expect(hex(sessionId(tag, keys))).toBe(sid);
});
