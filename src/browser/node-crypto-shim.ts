/**
 * Browser stand-in for the one `node:crypto` call src/secagg/primitives.ts
 * makes: `createCipheriv('aes-128-ctr', key, iv).update(zeros)`, i.e. the
 * AES-128-CTR keystream of the mask PRG (DESIGN.md section 3). Implemented
 * with @noble/ciphers' AES-CTR, so the output is byte-identical to
 * OpenSSL's; the counter block is iv + (bytes consumed / 16), big-endian,
 * as in NIST SP 800-38A. Only the build script substitutes it, only for
 * that module (scripts/build-browser.mjs).
 */
import { ctr } from '@noble/ciphers/aes.js';

function counterBlock(iv: Uint8Array, blocks: number): Uint8Array {
  const out = Uint8Array.from(iv);
  let carry = blocks;
  for (let i = 15; i >= 0 && carry > 0; i--) {
    const v = out[i]! + (carry % 256);
    out[i] = v & 0xff;
    carry = Math.floor(carry / 256) + (v >> 8);
  }
  return out;
}

export function createCipheriv(algorithm: string, key: Uint8Array, iv: Uint8Array): { update(data: Uint8Array): Uint8Array } {
  if (algorithm !== 'aes-128-ctr' || key.length !== 16 || iv.length !== 16) throw new Error(`node:crypto shim: only aes-128-ctr with 16-byte key and iv, got ${algorithm}`);
  let offset = 0;
  return {
    update(data: Uint8Array): Uint8Array {
      if (offset % 16 !== 0) throw new Error('node:crypto shim: a CTR update after a partial block');
      const out = ctr(key, counterBlock(iv, offset / 16)).encrypt(data);
      offset += data.length;
      return out;
    },
  };
}
