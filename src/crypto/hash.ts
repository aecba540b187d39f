/**
 * SHA-256 (FIPS 180-4), HKDF-SHA256 (RFC 5869) and fedveil's domain-separated
 * key derivation, all from `@noble/hashes` (portable: Node and browsers give
 * the same bytes).
 *
 * Domain separation (invariant I4): every key fedveil derives goes through
 * {@link deriveKey}, whose HKDF `info` is
 *
 *     utf8("fedveil/v1/" + label) || for each context part: u32be(len) || part
 *
 * The label is restricted to printable ASCII (0x21..0x7e), so it never contains
 * a 0x00 byte, while every length prefix starts with 0x00 (parts are shorter
 * than 2^24 bytes). The encoding is therefore injective: two different
 * (label, context) pairs can never produce the same `info`, so keys derived
 * for different purposes, sessions or peers are independent PRF outputs.
 * Callers bind the session id, both client ids and the purpose as context
 * parts; the label names the purpose ("mask/pair", "share-key", ...).
 *
 * Assumption: the input keying material has enough min-entropy (an X25519
 * shared secret or a 32-byte CSPRNG seed). `salt: undefined` means RFC 5869's
 * default salt (HashLen zero bytes); it is distinct from no call to extract.
 */
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { InvalidArgument } from '../errors.js';
import { abytes, aint } from '../util/assert.js';

/** Prefix of every HKDF `info` string fedveil produces (bump on format changes). */
export const KDF_LABEL_PREFIX = 'fedveil/v1/';

/** HKDF-SHA256 can output at most 255 * 32 bytes (RFC 5869 section 2.3). */
export const HKDF_SHA256_MAX_LENGTH = 255 * 32;

/** Largest context part deriveKey accepts (keeps its length prefix's top byte 0). */
const MAX_CONTEXT_PART = 0xffffff;

const LABEL_RE = /^[\x21-\x7e]+$/;

/** SHA-256 digest of `bytes` (32 bytes). */
export function sha256(bytes: Uint8Array): Uint8Array {
  abytes('sha256: bytes', bytes);
  return nobleSha256(bytes);
}

/**
 * HKDF-SHA256 (RFC 5869): extract with `salt` (undefined = HashLen zero
 * bytes), then expand `info` to `length` bytes (1 <= length <= 8160).
 */
export function hkdfSha256(ikm: Uint8Array, salt: Uint8Array | undefined, info: Uint8Array, length: number): Uint8Array {
  abytes('hkdfSha256: ikm', ikm);
  if (salt !== undefined) abytes('hkdfSha256: salt', salt);
  abytes('hkdfSha256: info', info);
  aint('hkdfSha256: length', length, 1, HKDF_SHA256_MAX_LENGTH);
  return hkdf(nobleSha256, ikm, salt, info, length);
}

/**
 * Encode the HKDF `info` for `label` and `context` (see the module header).
 * Exposed so other implementations can check interoperability.
 */
export function kdfInfo(label: string, context: readonly Uint8Array[]): Uint8Array {
  if (typeof label !== 'string' || !LABEL_RE.test(label)) {
    throw new InvalidArgument(`deriveKey: label must be non-empty printable ASCII without spaces, got ${JSON.stringify(String(label))}`);
  }
  if (!Array.isArray(context)) throw new InvalidArgument('deriveKey: context must be an array of Uint8Array');
  const prefix = new TextEncoder().encode(KDF_LABEL_PREFIX + label);
  let total = prefix.length;
  context.forEach((part, i) => {
    abytes(`deriveKey: context[${i}]`, part);
    if (part.length > MAX_CONTEXT_PART) throw new InvalidArgument(`deriveKey: context[${i}] is ${part.length} bytes, at most ${MAX_CONTEXT_PART} allowed`);
    total += 4 + part.length;
  });
  const info = new Uint8Array(total);
  info.set(prefix, 0);
  const view = new DataView(info.buffer);
  let off = prefix.length;
  for (const part of context) {
    view.setUint32(off, part.length, false);
    info.set(part, off + 4);
    off += 4 + part.length;
  }
  return info;
}

/**
 * Derive `length` bytes for the purpose `label`, bound to every `context`
 * part (invariant I4: session id, ids and purpose are all in `info`).
 * Uses HKDF-SHA256 with the default (all-zero) salt.
 */
export function deriveKey(label: string, ikm: Uint8Array, context: Uint8Array[], length: number): Uint8Array {
  abytes('deriveKey: ikm', ikm);
  aint('deriveKey: length', length, 1, HKDF_SHA256_MAX_LENGTH);
  const info = kdfInfo(label, context); // I4: purpose label + length-prefixed context in info
  return hkdf(nobleSha256, ikm, undefined, info, length);
}
