/**
 * Byte-string equality for keys, tags and commitments: every byte is
 * compared (OR-accumulated differences), so the time depends only on the
 * length, not on where two strings first differ.
 */

/** Same length and same bytes. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
}
