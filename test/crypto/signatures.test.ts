import { createPrivateKey, createPublicKey, sign as nodeSign, verify as nodeVerify } from 'node:crypto';
import { deterministicRandom, ed25519Backend, ed25519KeyPair, ed25519PublicKey, ed25519Sign, ed25519Verify, randomBytes } from '../../src/crypto/index.js';
import { InvalidArgument } from '../../src/errors.js';
import { hex, loadVectors, toHex } from './helpers.js';
import { expectFedveilError } from '../expect-error.js';

interface EdVector { name: string; secretKey: string; publicKey: string; message: string; signature: string }

// PKCS#8 / SPKI DER prefixes for raw Ed25519 keys (RFC 8410), used only to
// let node:crypto (OpenSSL) cross-check the vector file.
const PKCS8_PREFIX = hex('302e020100300506032b657004220420');
const SPKI_PREFIX = hex('302a300506032b6570032100');
const der = (prefix: Uint8Array, key: Uint8Array): Buffer => Buffer.concat([prefix, key]);

describe('Ed25519 (RFC 8032)', () => {
  const { vectors } = loadVectors<EdVector>('rfc8032-ed25519.json');
  test('vector file has the five RFC 8032 7.1 cases', () => {
    expect(vectors.map((v) => v.name)).toEqual(['TEST 1', 'TEST 2', 'TEST 3', 'TEST 1024', 'TEST SHA(abc)']);
  });
  test.each(vectors.map((v) => [v.name, v] as const))('%s', (_name, v) => {
    const sk = hex(v.secretKey);
    const pk = hex(v.publicKey);
    const msg = hex(v.message);
    expect(toHex(ed25519PublicKey(sk))).toBe(v.publicKey);
    for (const backend of ['node', 'noble'] as const) {
      expect(toHex(ed25519Sign(sk, msg, backend))).toBe(v.signature);
      expect(ed25519Verify(pk, msg, hex(v.signature), backend)).toBe(true);
    }
    // OpenSSL agrees with the vector file.
    const nodeSk = createPrivateKey({ key: der(PKCS8_PREFIX, sk), format: 'der', type: 'pkcs8' });
    expect(nodeSign(null, msg, nodeSk).toString('hex')).toBe(v.signature);
    const nodePk = createPublicKey({ key: der(SPKI_PREFIX, pk), format: 'der', type: 'spki' });
    expect(nodeVerify(null, msg, nodePk, hex(v.signature))).toBe(true);
  });

  test('default backend is node; both backends agree on random keys and messages', () => {
    expect(ed25519Backend()).toBe('node');
    const rng = deterministicRandom(9);
    for (let i = 0; i < 30; i++) {
      const { secretKey, publicKey } = ed25519KeyPair(rng);
      const msg = randomBytes(i * 13, rng);
      const sig = ed25519Sign(secretKey, msg, 'node');
      expect(ed25519Sign(secretKey, msg, 'noble')).toEqual(sig);
      expect(ed25519Verify(publicKey, msg, sig, 'noble')).toBe(true);
      expect(ed25519Verify(publicKey, msg, sig, 'node')).toBe(true);
    }
  });

  test.each(['node', 'noble'] as const)('malleated and non-canonical inputs are rejected (%s)', (backend) => {
    const { secretKey, publicKey } = ed25519KeyPair(deterministicRandom(10));
    const msg = new TextEncoder().encode('ledger line 3');
    const sig = ed25519Sign(secretKey, msg, backend);
    // s + L: the classic malleation, valid for a verifier that skips s < L
    const L = (1n << 252n) + 27742317777372353535851937790883648493n;
    let s = 0n;
    for (let i = 63; i >= 32; i--) s = (s << 8n) | BigInt(sig[i]!);
    s += L;
    const mauled = Uint8Array.from(sig);
    for (let i = 32; i < 64; i++) { mauled[i] = Number(s & 0xffn); s >>= 8n; }
    expect(ed25519Verify(publicKey, msg, mauled, backend)).toBe(false);
    // a public key encoding with y >= p (y = p + 1, i.e. the encoding of 1 plus p)
    const P = (1n << 255n) - 19n;
    const nonCanonical = new Uint8Array(32);
    let y = P + 1n;
    for (let i = 0; i < 32; i++) { nonCanonical[i] = Number(y & 0xffn); y >>= 8n; }
    expect(ed25519Verify(nonCanonical, msg, sig, backend)).toBe(false);
    // R replaced by a non-canonical encoding
    const badR = Uint8Array.from(sig);
    badR.set(nonCanonical, 0);
    expect(ed25519Verify(publicKey, msg, badR, backend)).toBe(false);
    // x = 0 with the sign bit set (y = 1, "negative zero")
    const negZero = new Uint8Array(32);
    negZero[0] = 1;
    negZero[31] = 0x80;
    expect(ed25519Verify(negZero, msg, sig, backend)).toBe(false);
    expect(ed25519Verify(publicKey, msg, sig, backend)).toBe(true);
  });

  test('tampered signatures, messages and keys verify false, never throw', () => {
    const { secretKey, publicKey } = ed25519KeyPair(deterministicRandom(1));
    const msg = new TextEncoder().encode('round 7 ledger line');
    const sig = ed25519Sign(secretKey, msg);
    expect(ed25519Verify(publicKey, msg, sig)).toBe(true);
    for (let i = 0; i < 64; i += 7) {
      const bad = Uint8Array.from(sig);
      bad[i]! ^= 1;
      expect(ed25519Verify(publicKey, msg, bad)).toBe(false);
    }
    expect(ed25519Verify(publicKey, Uint8Array.of(...msg, 0), sig)).toBe(false);
    expect(ed25519Verify(ed25519KeyPair(deterministicRandom(2)).publicKey, msg, sig)).toBe(false);
    // s >= L (non-canonical scalar) must be rejected under strict RFC 8032 rules.
    const highS = Uint8Array.from(sig);
    highS.fill(0xff, 32);
    expect(ed25519Verify(publicKey, msg, highS)).toBe(false);
    // A public key that is not a curve point (y = 2 does not decode).
    const notAPoint = new Uint8Array(32);
    notAPoint[0] = 2;
    expect(ed25519Verify(notAPoint, msg, sig)).toBe(false);
  });

  test('key pairs are deterministic under a seeded source and fresh otherwise', () => {
    expect(ed25519KeyPair(deterministicRandom(3))).toEqual(ed25519KeyPair(deterministicRandom(3)));
    expect(ed25519KeyPair().secretKey).not.toEqual(ed25519KeyPair().secretKey);
  });

  test('wrong lengths are InvalidArgument', () => {
    const { secretKey, publicKey } = ed25519KeyPair(deterministicRandom(4));
    const sig = ed25519Sign(secretKey, new Uint8Array(1));
    expectFedveilError(() => ed25519Sign(new Uint8Array(31), new Uint8Array(1)), InvalidArgument, 'INVALID_ARGUMENT');
    expectFedveilError(() => ed25519Sign(secretKey, 'msg' as unknown as Uint8Array), InvalidArgument, 'INVALID_ARGUMENT');
    expectFedveilError(() => ed25519Verify(new Uint8Array(33), new Uint8Array(1), sig), InvalidArgument, 'INVALID_ARGUMENT');
    expectFedveilError(() => ed25519Verify(publicKey, new Uint8Array(1), sig.subarray(0, 63)), InvalidArgument, 'INVALID_ARGUMENT');
    expectFedveilError(() => ed25519PublicKey(new Uint8Array(64)), InvalidArgument, 'INVALID_ARGUMENT');
    expectFedveilError(() => ed25519Verify(publicKey, new Uint8Array(1), sig, 'openssl' as 'node'), InvalidArgument, 'INVALID_ARGUMENT');
    expectFedveilError(() => ed25519Sign(secretKey, new Uint8Array(1), 'x' as 'node'), InvalidArgument, 'INVALID_ARGUMENT');
  });
});
