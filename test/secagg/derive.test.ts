import { deterministicRandom, randomBytes } from '../../src/crypto/random.js';
import { pairMaskKey, selfMaskKey, sessionId, shareKey } from '../../src/secagg/derive.js';
import { makeConfig, roundTag } from '../../src/secagg/config.js';
import { InvalidArgument } from '../../src/errors.js';
import { expectFedveilError } from '../expect-error.js';

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

test('I5: the round tag, hence the session id, commits to the roster root, plan, model, coordinator session and round', () => {
  const base = {
    n: 5, threshold: 3, dim: 4, seed: new Uint8Array(32).fill(1), round: 7,
    commitment: { rosterRoot: new Uint8Array(32).fill(2), planHash: new Uint8Array(32).fill(3), modelHash: new Uint8Array(32).fill(4), coordinatorSession: new Uint8Array(32).fill(5) },
  };
  const sid = hex(sessionId(roundTag(makeConfig(base))));
  expect(hex(sessionId(roundTag(makeConfig(base))))).toBe(sid);
  const flip = (field: keyof typeof base.commitment) => ({ ...base, commitment: { ...base.commitment, [field]: new Uint8Array(32).fill(9) } });
  const variants = [
    flip('rosterRoot'), flip('planHash'), flip('modelHash'), flip('coordinatorSession'),
    { ...base, round: 8 }, { ...base, threshold: 4 }, { ...base, seed: new Uint8Array(32).fill(6) },
  ];
  for (const v of variants) expect(hex(sessionId(roundTag(makeConfig(v))))).not.toBe(sid);
});

test('I5: without a roster root, an active round tag commits to every verify key', () => {
  const keys = [1, 2, 3, 4, 5].map(() => randomBytes(32, rng));
  const cfg = (vk: Uint8Array[]) => makeConfig({ n: 5, threshold: 4, dim: 4, mode: 'active', verifyKeys: vk, seed: new Uint8Array(32) });
  const tag = hex(roundTag(cfg(keys)));
  expect(hex(roundTag(cfg(keys.map((k, i) => (i === 2 ? randomBytes(32, rng) : k)))))).not.toBe(tag);
  // A partial key list is refused unless the roster is committed by its root.
  expectFedveilError(() => makeConfig({ n: 5, threshold: 4, dim: 4, mode: 'active', verifyKeys: [keys[0], undefined, keys[2], keys[3], keys[4]], seed: new Uint8Array(32) }), InvalidArgument, 'INVALID_ARGUMENT');
});
