/**
 * Test helpers for the crypto suite: hex conversion and loading the
 * published vectors of test/vectors/ (JSON, hex strings).
 */
import { readFileSync } from 'node:fs';

export function hex(s: string): Uint8Array {
  return Uint8Array.from(Buffer.from(s, 'hex'));
}

export function toHex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

export function loadVectors<T>(file: string): { source: string; vectors: T[] } {
  return JSON.parse(readFileSync(new URL(`../vectors/${file}`, import.meta.url), 'utf8')) as { source: string; vectors: T[] };
}

/** Byte-wise equality of two typed arrays (fast, unlike toEqual on 10^5 entries). */
export function sameBytes(a: ArrayBufferView, b: ArrayBufferView): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}
