import { createCipheriv } from 'node:crypto';
import { ctr } from '@noble/ciphers/aes.js';
import { deterministicRandom, prgAddInto, prgAddIntoAsync, prgBackend, prgExpand, prgExpandAsync, prgSyncBackend, randomBytes } from '../../src/crypto/index.js';
import { fillRandomUint32 } from '../../src/crypto/random.js';
import { PRG_CHUNK_BYTES } from '../../src/crypto/prg.js';
import { InvalidArgument } from '../../src/errors.js';
import { hex, loadVectors, sameBytes, toHex } from './helpers.js';
import { expectFedveilError, expectFedveilRejection } from '../expect-error.js';

interface CtrVector { name: string; key: string; initialCounter: string; plaintext: string; ciphertext: string }

const CHUNK_WORDS = PRG_CHUNK_BYTES / 4;
const WEBCRYPTO_CHUNK_WORDS = (1 << 20) / 4;
// Lengths around every boundary: block (4 words), node/noble chunk, webcrypto chunk.
const LENGTHS = [0, 1, 2, 3, 4, 5, 7, 15, 16, 17, CHUNK_WORDS - 1, CHUNK_WORDS, CHUNK_WORDS + 1, 3 * CHUNK_WORDS + 7,
  WEBCRYPTO_CHUNK_WORDS - 3, WEBCRYPTO_CHUNK_WORDS + 5];
const BITS = [1, 7, 16, 31, 32];
const mask = (b: number): number => (b === 32 ? 0xffffffff : 2 ** b - 1);

describe('AES-128-CTR primitives behind the PRG (NIST SP 800-38A F.5.1)', () => {
  const { vectors } = loadVectors<CtrVector>('sp800-38a-aes128-ctr.json');
  test.each(vectors.map((v) => [v.name, v] as const))('%s on node, noble and webcrypto', async (_n, v) => {
    const key = hex(v.key) as Uint8Array<ArrayBuffer>;
    const iv = hex(v.initialCounter) as Uint8Array<ArrayBuffer>;
    const pt = hex(v.plaintext) as Uint8Array<ArrayBuffer>;
    expect(createCipheriv('aes-128-ctr', key, iv).update(pt).toString('hex')).toBe(v.ciphertext);
    expect(toHex(ctr(key, iv).encrypt(pt))).toBe(v.ciphertext);
    const k = await crypto.subtle.importKey('raw', key, 'AES-CTR', false, ['encrypt']);
    expect(toHex(new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-CTR', counter: iv, length: 128 }, k, pt)))).toBe(v.ciphertext);
  });
});

describe('mask PRG', () => {
  test('definition: little-endian words of AES-128(key, counter 0, 1, 2, ...)', () => {
    const key = hex('000102030405060708090a0b0c0d0e0f');
    // 2.5 blocks; ECB of explicit big-endian counter blocks is an independent computation.
    const blocks = new Uint8Array(48);
    blocks[31] = 1;
    blocks[47] = 2;
    const ecb = createCipheriv('aes-128-ecb', key, null).setAutoPadding(false).update(blocks);
    const out = prgExpand(key, new Uint32Array(10), 32);
    expect(toHex(new Uint8Array(out.buffer))).toBe(ecb.subarray(0, 40).toString('hex'));
    expect(out[0]).toBe(ecb.readUInt32LE(0));
    expect(prgExpand(key, new Uint32Array(10), 5)).toEqual(out.map((w) => w & 31));
  });

  test('default backends on Node', () => {
    expect(prgSyncBackend()).toBe('node');
    expect(prgBackend()).toBe('node');
  });

  test('node, noble and webcrypto give identical output for every length and bit width', async () => {
    const key = randomBytes(16, deterministicRandom(31));
    for (const len of LENGTHS) {
      const ref = prgExpand(key, new Uint32Array(len), 32, 'node');
      for (const bits of BITS) {
        const want = ref.map((w) => w & mask(bits));
        expect(sameBytes(prgExpand(key, new Uint32Array(len), bits, 'node'), want)).toBe(true);
        expect(sameBytes(prgExpand(key, new Uint32Array(len), bits, 'noble'), want)).toBe(true);
        expect(sameBytes(await prgExpandAsync(key, new Uint32Array(len), bits, 'webcrypto'), want)).toBe(true);
        expect(sameBytes(await prgExpandAsync(key, new Uint32Array(len), bits, 'node'), want)).toBe(true);
      }
      // A prefix of a longer expansion is the shorter expansion (one stream).
      if (len > 0) expect(sameBytes(prgExpand(key, new Uint32Array(len - 1), 32, 'noble'), ref.subarray(0, len - 1))).toBe(true);
    }
  });

  test('prgAddInto adds/subtracts mod 2^b identically on all backends and +PRG then -PRG is the identity', async () => {
    const rng = deterministicRandom(32);
    const key = randomBytes(16, rng);
    for (const len of [0, 1, 5, CHUNK_WORDS + 3, WEBCRYPTO_CHUNK_WORDS + 1]) {
      for (const bits of [1, 16, 31, 32]) {
        const m = mask(bits);
        const acc0 = fillRandomUint32(new Uint32Array(len), rng).map((x) => x & m);
        const stream = prgExpand(key, new Uint32Array(len), bits);
        const plus = acc0.map((a, i) => (a + stream[i]!) & m);
        const minus = acc0.map((a, i) => (a - stream[i]! + 2 ** 32) & m);
        for (const backend of ['node', 'noble'] as const) {
          const acc = Uint32Array.from(acc0);
          prgAddInto(key, acc, bits, 1, backend);
          expect(sameBytes(acc, plus)).toBe(true);
          prgAddInto(key, acc, bits, -1, backend);
          expect(sameBytes(acc, acc0)).toBe(true);
          prgAddInto(key, acc, bits, -1, backend);
          expect(sameBytes(acc, minus)).toBe(true);
        }
        for (const backend of ['node', 'webcrypto', 'noble'] as const) {
          const acc = Uint32Array.from(acc0);
          await prgAddIntoAsync(key, acc, bits, 1, backend);
          expect(sameBytes(acc, plus)).toBe(true);
          await prgAddIntoAsync(key, acc, bits, -1, backend);
          expect(sameBytes(acc, acc0)).toBe(true);
        }
      }
    }
  });

  test('fills a subarray view in place and leaves neighbours untouched', () => {
    const key = new Uint8Array(16).fill(5);
    const big = new Uint32Array(20).fill(7);
    const view = big.subarray(3, 13);
    expect(prgExpand(key, view, 32)).toBe(view);
    expect(view).toEqual(prgExpand(key, new Uint32Array(10), 32));
    expect([...big.subarray(0, 3), ...big.subarray(13)]).toEqual(new Array(10).fill(7));
  });

  test('different keys give different masks', () => {
    const a = prgExpand(new Uint8Array(16), new Uint32Array(64), 32);
    const k = new Uint8Array(16);
    k[15] = 1;
    expect(prgExpand(k, new Uint32Array(64), 32)).not.toEqual(a);
  });

  test('bad arguments are InvalidArgument', async () => {
    const key = new Uint8Array(16);
    const v = new Uint32Array(4);
    expectFedveilError(() => prgExpand(new Uint8Array(32), v, 32), InvalidArgument, 'INVALID_ARGUMENT');
    expectFedveilError(() => prgExpand(key, new Int32Array(4) as unknown as Uint32Array, 32), InvalidArgument, 'INVALID_ARGUMENT');
    expectFedveilError(() => prgExpand(key, v, 0), InvalidArgument, 'INVALID_ARGUMENT');
    expectFedveilError(() => prgExpand(key, v, 33), InvalidArgument, 'INVALID_ARGUMENT');
    expectFedveilError(() => prgExpand(key, v, 16.5), InvalidArgument, 'INVALID_ARGUMENT');
    expectFedveilError(() => prgExpand(key, v, 32, 'webcrypto' as 'node'), InvalidArgument, 'INVALID_ARGUMENT');
    expectFedveilError(() => prgAddInto(key, v, 32, 0 as 1), InvalidArgument, 'INVALID_ARGUMENT');
    expectFedveilError(() => prgAddInto(key, [1, 2] as unknown as Uint32Array, 32, 1), InvalidArgument, 'INVALID_ARGUMENT');
    await expectFedveilRejection(prgExpandAsync(key, v, 40), InvalidArgument, 'INVALID_ARGUMENT');
    await expectFedveilRejection(prgAddIntoAsync(key, v, 32, 2 as 1), InvalidArgument, 'INVALID_ARGUMENT');
    await expectFedveilRejection(prgAddIntoAsync(key, v, 32, 1, 'gpu' as 'node'), InvalidArgument, 'INVALID_ARGUMENT');
  });
});
