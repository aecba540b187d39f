import { deterministicRandom, x25519Agree, x25519Backend, x25519KeyPair, x25519PublicKey } from '../../src/crypto/index.js';
import { x25519ScalarMult, x25519ValidatePublicKey } from '../../src/crypto/x25519.js';
import { InvalidArgument, InvalidPublicKey } from '../../src/errors.js';
import { hex, toHex } from './helpers.js';
import { readFileSync } from 'node:fs';
import { expectFedveilError } from '../expect-error.js';

const V = JSON.parse(readFileSync(new URL('../vectors/rfc7748-x25519.json', import.meta.url), 'utf8')) as {
  scalarMult: { scalar: string; u: string; output: string }[];
  iterated: { start: string; after1: string; after1000: string };
  dh: { aliceSecret: string; alicePublic: string; bobSecret: string; bobPublic: string; shared: string };
};

const P = (1n << 255n) - 19n;
const le = (x: bigint): Uint8Array => {
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) out[i] = Number((x >> BigInt(8 * i)) & 0xffn);
  return out;
};

describe('X25519 (RFC 7748)', () => {
  test('section 5.2 function vectors', () => {
    for (const v of V.scalarMult) expect(toHex(x25519ScalarMult(hex(v.scalar), hex(v.u)))).toBe(v.output);
  });

  test('section 5.2 iterated vectors (1 and 1000 iterations)', () => {
    let k = hex(V.iterated.start);
    let u = hex(V.iterated.start);
    for (let i = 1; i <= 1000; i++) {
      const next = x25519ScalarMult(k, u);
      u = k;
      k = next;
      if (i === 1) expect(toHex(k)).toBe(V.iterated.after1);
    }
    expect(toHex(k)).toBe(V.iterated.after1000);
  });

  test.each(['node', 'noble'] as const)('section 6.1 Diffie-Hellman, backend %s', (backend) => {
    const { dh } = V;
    expect(toHex(x25519PublicKey(hex(dh.aliceSecret), backend))).toBe(dh.alicePublic);
    expect(toHex(x25519PublicKey(hex(dh.bobSecret), backend))).toBe(dh.bobPublic);
    expect(toHex(x25519Agree(hex(dh.aliceSecret), hex(dh.bobPublic), backend))).toBe(dh.shared);
    expect(toHex(x25519Agree(hex(dh.bobSecret), hex(dh.alicePublic), backend))).toBe(dh.shared);
  });

  test('node and noble backends give identical shared secrets', () => {
    expect(x25519Backend()).toBe('node');
    const rng = deterministicRandom(11);
    for (let i = 0; i < 40; i++) {
      const a = x25519KeyPair(rng);
      const b = x25519KeyPair(rng);
      const s = x25519Agree(a.secretKey, b.publicKey, 'node');
      expect(x25519Agree(a.secretKey, b.publicKey, 'noble')).toEqual(s);
      expect(x25519Agree(b.secretKey, a.publicKey, 'node')).toEqual(s);
    }
  });

  test('the cached native private key follows the secret-key bytes, not the array identity', () => {
    const rng = deterministicRandom(12);
    const peer = x25519KeyPair(rng);
    const sk = x25519KeyPair(rng).secretKey;
    const first = x25519Agree(sk, peer.publicKey, 'node');
    expect(x25519Agree(sk, peer.publicKey, 'node')).toEqual(first);
    const other = x25519KeyPair(rng).secretKey;
    sk.set(other);
    expect(x25519Agree(sk, peer.publicKey, 'node')).toEqual(x25519Agree(other, peer.publicKey, 'noble'));
    expect(x25519Agree(sk, peer.publicKey, 'node')).not.toEqual(first);
  });

  const smallOrder: [string, Uint8Array][] = [
    ['0', le(0n)],
    ['1', le(1n)],
    ['order 8 (e0eb...)', hex('e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800')],
    ['order 8 (5f9c...)', hex('5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157')],
    ['p - 1', le(P - 1n)],
  ];
  const nonCanonical: [string, Uint8Array][] = [
    ['p', le(P)],
    ['p + 1', le(P + 1n)],
    ['2^255 - 1', le((1n << 255n) - 1n)],
    ['top bit set on a valid key', (() => { const k = Uint8Array.from(hex(V.dh.bobPublic)); k[31]! |= 0x80; return k; })()],
  ];

  test.each([...smallOrder, ...nonCanonical])('rejects public key %s with InvalidPublicKey on both backends', (_name, pk) => {
    expectFedveilError(() => x25519ValidatePublicKey(pk), InvalidPublicKey, 'INVALID_PUBLIC_KEY');
    const sk = x25519KeyPair(deterministicRandom(5)).secretKey;
    for (const backend of ['node', 'noble'] as const) {
      expectFedveilError(() => x25519Agree(sk, pk, backend), InvalidPublicKey, 'INVALID_PUBLIC_KEY');
    }
  });

  test('the listed points really are small order: raw X25519 (noble) refuses the all-zero output for random scalars', () => {
    const rng = deterministicRandom(6);
    for (const [, pk] of smallOrder) {
      for (let i = 0; i < 4; i++) expect(() => x25519ScalarMult(x25519KeyPair(rng).secretKey, pk)).toThrow(/invalid private or public key/);
    }
    // the second order-8 point is the inverse of the first mod p
    const u1 = BigInt('0x' + toHex(smallOrder[2]![1].slice().reverse()));
    const u2 = BigInt('0x' + toHex(smallOrder[3]![1].slice().reverse()));
    expect((u1 * u2) % P).toBe(1n);
  });

  test('valid keys and twist points pass validation', () => {
    expect(() => x25519ValidatePublicKey(hex(V.dh.alicePublic))).not.toThrow();
    // u = 2 is on the twist (2^3 + A*2^2 + 2 is a non-square) but not of small order.
    expect(() => x25519ValidatePublicKey(le(2n))).not.toThrow();
    expect(x25519Agree(hex(V.dh.aliceSecret), le(2n), 'node')).toEqual(x25519Agree(hex(V.dh.aliceSecret), le(2n), 'noble'));
  });

  test('wrong lengths and types are InvalidArgument', () => {
    const { secretKey, publicKey } = x25519KeyPair(deterministicRandom(7));
    expectFedveilError(() => x25519ValidatePublicKey(new Uint8Array(31)), InvalidArgument, 'INVALID_ARGUMENT');
    expectFedveilError(() => x25519Agree(new Uint8Array(33), publicKey), InvalidArgument, 'INVALID_ARGUMENT');
    expectFedveilError(() => x25519Agree(secretKey, 'pk' as unknown as Uint8Array), InvalidArgument, 'INVALID_ARGUMENT');
    expectFedveilError(() => x25519Agree(secretKey, publicKey, 'openssl' as 'node'), InvalidArgument, 'INVALID_ARGUMENT');
    expectFedveilError(() => x25519PublicKey(new Uint8Array(0)), InvalidArgument, 'INVALID_ARGUMENT');
  });
});
