import { createHash, hkdfSync } from 'node:crypto';
import { deriveKey, hkdfSha256, kdfInfo, sha256 } from '../../src/crypto/index.js';
import { InvalidArgument } from '../../src/errors.js';
import { hex, loadVectors, toHex } from './helpers.js';
import { expectFedveilError } from '../expect-error.js';

interface HkdfVector { name: string; ikm: string; salt: string; info: string; length: number; okm: string }

describe('sha256', () => {
  test('FIPS 180-4 examples and agreement with node:crypto', () => {
    expect(toHex(sha256(new TextEncoder().encode('abc')))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(toHex(sha256(new Uint8Array(0)))).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    const msg = new Uint8Array(1000).map((_, i) => i * 7);
    expect(toHex(sha256(msg))).toBe(createHash('sha256').update(msg).digest('hex'));
  });
  test('rejects non-bytes', () => {
    expectFedveilError(() => sha256('abc' as unknown as Uint8Array), InvalidArgument, 'INVALID_ARGUMENT');
  });
});

describe('hkdfSha256 (RFC 5869)', () => {
  const { vectors } = loadVectors<HkdfVector>('rfc5869-hkdf.json');
  test.each(vectors.map((v) => [v.name, v] as const))('test case %s', (_name, v) => {
    const salt = v.salt === '' ? new Uint8Array(0) : hex(v.salt);
    expect(toHex(hkdfSha256(hex(v.ikm), salt, hex(v.info), v.length))).toBe(v.okm);
    // An empty salt equals the default salt (HashLen zero bytes), RFC 5869 2.2.
    if (v.salt === '') expect(toHex(hkdfSha256(hex(v.ikm), undefined, hex(v.info), v.length))).toBe(v.okm);
    // node:crypto (OpenSSL) agrees, so the vector file itself is checked twice.
    expect(Buffer.from(hkdfSync('sha256', hex(v.ikm), salt, hex(v.info), v.length)).toString('hex')).toBe(v.okm);
  });
  test('rejects bad lengths and types', () => {
    const ikm = new Uint8Array(32);
    expectFedveilError(() => hkdfSha256(ikm, undefined, new Uint8Array(0), 0), InvalidArgument, 'INVALID_ARGUMENT');
    expectFedveilError(() => hkdfSha256(ikm, undefined, new Uint8Array(0), 255 * 32 + 1), InvalidArgument, 'INVALID_ARGUMENT');
    expectFedveilError(() => hkdfSha256(ikm, undefined, new Uint8Array(0), 1.5), InvalidArgument, 'INVALID_ARGUMENT');
    expectFedveilError(() => hkdfSha256(ikm, [] as unknown as Uint8Array, new Uint8Array(0), 32), InvalidArgument, 'INVALID_ARGUMENT');
    expectFedveilError(() => hkdfSha256(null as unknown as Uint8Array, undefined, new Uint8Array(0), 32), InvalidArgument, 'INVALID_ARGUMENT');
  });
});

describe('deriveKey (domain separation, I4)', () => {
  const ikm = new Uint8Array(32).fill(9);
  test('info encoding is the documented one', () => {
    const info = kdfInfo('mask/pair', [Uint8Array.of(1, 2), new Uint8Array(0)]);
    expect(toHex(info)).toBe(toHex(new TextEncoder().encode('fedveil/v1/mask/pair')) + '00000002' + '0102' + '00000000');
    expect(toHex(deriveKey('mask/pair', ikm, [Uint8Array.of(1, 2), new Uint8Array(0)], 32)))
      .toBe(toHex(hkdfSha256(ikm, undefined, info, 32)));
  });
  test('different labels, context splits and lengths give different keys', () => {
    const keys = [
      deriveKey('a', ikm, [], 32),
      deriveKey('b', ikm, [], 32),
      deriveKey('a', ikm, [Uint8Array.of(1, 2)], 32),
      deriveKey('a', ikm, [Uint8Array.of(1), Uint8Array.of(2)], 32),
      deriveKey('a', ikm, [Uint8Array.of(1, 2), new Uint8Array(0)], 32),
    ].map(toHex);
    expect(new Set(keys).size).toBe(keys.length);
    expect(deriveKey('a', ikm, [], 16)).toEqual(deriveKey('a', ikm, [], 32).subarray(0, 16));
  });
  test('rejects bad labels, contexts and lengths', () => {
    expectFedveilError(() => deriveKey('', ikm, [], 32), InvalidArgument, 'INVALID_ARGUMENT');
    expectFedveilError(() => deriveKey('has space', ikm, [], 32), InvalidArgument, 'INVALID_ARGUMENT');
    expectFedveilError(() => deriveKey('nul\u0000', ikm, [], 32), InvalidArgument, 'INVALID_ARGUMENT');
    expectFedveilError(() => deriveKey('a', ikm, ['x' as unknown as Uint8Array], 32), InvalidArgument, 'INVALID_ARGUMENT');
    expectFedveilError(() => deriveKey('a', ikm, undefined as unknown as Uint8Array[], 32), InvalidArgument, 'INVALID_ARGUMENT');
    expectFedveilError(() => deriveKey('a', ikm, [], 0), InvalidArgument, 'INVALID_ARGUMENT');
    expectFedveilError(() => deriveKey('a', 'k' as unknown as Uint8Array, [], 32), InvalidArgument, 'INVALID_ARGUMENT');
  });
});
