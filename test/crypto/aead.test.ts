import { chacha20poly1305 } from '@noble/ciphers/chacha.js';
import fc from 'fast-check';
import { AEAD_OVERHEAD, aeadOpen, aeadSeal, deterministicRandom } from '../../src/crypto/index.js';
import { CryptoError, InvalidArgument } from '../../src/errors.js';
import { hex, loadVectors, toHex } from './helpers.js';
import { expectFedveilError } from '../expect-error.js';

interface AeadVector { name: string; key: string; nonce: string; aad: string; plaintext: string; ciphertext: string; tag: string }

function expectAuthFailure(f: () => unknown): void {
  expectFedveilError(f, CryptoError, 'AEAD_AUTH_FAILED');
}

describe('ChaCha20-Poly1305 AEAD (RFC 8439)', () => {
  const { vectors } = loadVectors<AeadVector>('rfc8439-chacha20poly1305.json');

  test('section 2.8.2 vector through the fedveil wire format', () => {
    for (const v of vectors) {
      // aeadSeal draws the nonce from the rng: feed it the vector's nonce.
      const rng = { fill: (b: Uint8Array) => b.set(hex(v.nonce)) };
      const sealed = aeadSeal(hex(v.key), hex(v.plaintext), hex(v.aad), rng);
      expect(toHex(sealed)).toBe(v.nonce + v.ciphertext + v.tag);
      expect(toHex(aeadOpen(hex(v.key), sealed, hex(v.aad)))).toBe(v.plaintext);
      // the primitive itself, independently of the framing
      expect(toHex(chacha20poly1305(hex(v.key), hex(v.nonce), hex(v.aad)).encrypt(hex(v.plaintext)))).toBe(v.ciphertext + v.tag);
    }
  });

  test('round trip and tamper detection (property)', () => {
    const rng = deterministicRandom(21);
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), fc.uint8Array({ maxLength: 40 }), fc.nat(1000), (pt, aad, flip) => {
      const key = new Uint8Array(32).fill(3);
      const sealed = aeadSeal(key, pt, aad, rng);
      expect(sealed.length).toBe(pt.length + AEAD_OVERHEAD);
      expect(aeadOpen(key, sealed, aad)).toEqual(pt);
      const bad = Uint8Array.from(sealed);
      bad[flip % bad.length]! ^= 1 << (flip % 8);
      expectAuthFailure(() => aeadOpen(key, bad, aad));
    }), { numRuns: 200 });
  });

  test('aad, key and truncation are all authenticated', () => {
    const key = new Uint8Array(32).fill(1);
    const aad = new TextEncoder().encode('round 3: 5 -> 9');
    const sealed = aeadSeal(key, new TextEncoder().encode('share'), aad);
    expectAuthFailure(() => aeadOpen(key, sealed, new TextEncoder().encode('round 3: 5 -> 8')));
    expectAuthFailure(() => aeadOpen(new Uint8Array(32).fill(2), sealed, aad));
    expectAuthFailure(() => aeadOpen(key, sealed.subarray(0, sealed.length - 1), aad));
    expectAuthFailure(() => aeadOpen(key, new Uint8Array(AEAD_OVERHEAD - 1), aad));
    expectAuthFailure(() => aeadOpen(key, new Uint8Array(AEAD_OVERHEAD), aad));
  });

  test('nonces are fresh per message', () => {
    const key = new Uint8Array(32);
    const seen = new Set<string>();
    for (let i = 0; i < 1000; i++) seen.add(toHex(aeadSeal(key, new Uint8Array(0), new Uint8Array(0)).subarray(0, 12)));
    expect(seen.size).toBe(1000);
  });

  test('wrong types and key lengths are InvalidArgument', () => {
    const key = new Uint8Array(32);
    expectFedveilError(() => aeadSeal(new Uint8Array(16), new Uint8Array(1), new Uint8Array(0)), InvalidArgument, 'INVALID_ARGUMENT');
    expectFedveilError(() => aeadSeal(key, 'x' as unknown as Uint8Array, new Uint8Array(0)), InvalidArgument, 'INVALID_ARGUMENT');
    expectFedveilError(() => aeadSeal(key, new Uint8Array(1), undefined as unknown as Uint8Array), InvalidArgument, 'INVALID_ARGUMENT');
    expectFedveilError(() => aeadOpen(new Uint8Array(31), new Uint8Array(40), new Uint8Array(0)), InvalidArgument, 'INVALID_ARGUMENT');
    expectFedveilError(() => aeadOpen(key, [] as unknown as Uint8Array, new Uint8Array(0)), InvalidArgument, 'INVALID_ARGUMENT');
  });
});
