/**
 * Enrolment certificates: an authority's Ed25519 key (RFC 8032) vouches for a
 * client's Ed25519 public key, for a validity window, under a serial number;
 * the same key signs revocation lists of serials.
 *
 * This is the public-key infrastructure that Bonawitz et al. (CCS 2017,
 * section 4) assume for the active-adversary protocol: without it a malicious
 * coordinator can fill a roster with identities of its own (sybils) and
 * isolate one honest client. The authority is an offline key that the
 * coordinator does not hold; every client pins its public key in its policy.
 *
 * Encoding (fixed layout, so a signature covers exactly one meaning):
 *   statement = "fedveil/v1/authority/certificate" || u8 version ||
 *               subject(32) || u64be serial || u64be notBefore ||
 *               u64be notAfter || authority(32)
 *   certificate bytes = u8 version || subject || serial || notBefore ||
 *                       notAfter || authority || signature(64)   (153 bytes)
 *   revocation statement = "fedveil/v1/authority/revocations" ||
 *               authority(32) || u64be issuedAt || u32be count ||
 *               u64be serial... (strictly ascending)
 * Times are Unix seconds. Serials are integers in [0, 2^53).
 *
 * Verification never throws on untrusted input: it returns the reason a
 * certificate is not acceptable, which the caller turns into its own typed
 * error naming the peer.
 */
import { InvalidArgument } from '../errors.js';
import { bytesEqual } from '../util/bytes.js';
import { abytes, aint } from '../util/assert.js';
import { ed25519PublicKey, ed25519Sign, ed25519Verify } from './signatures.js';
import { bytesToHex } from '../util/hex.js';

export const CERTIFICATE_VERSION = 1;
export const CERTIFICATE_BYTES = 1 + 32 + 8 + 8 + 8 + 32 + 64;

const enc = new TextEncoder();
const CERT_LABEL = enc.encode('fedveil/v1/authority/certificate');
const CRL_LABEL = enc.encode('fedveil/v1/authority/revocations');

/** A client key certified by an enrolment authority. */
export interface Certificate {
  readonly version: number;
  /** The certified Ed25519 public key (the client's identity and SecAgg signing key). */
  readonly subject: Uint8Array;
  readonly serial: number;
  /** Validity window, Unix seconds, inclusive. */
  readonly notBefore: number;
  readonly notAfter: number;
  /** The issuing authority's Ed25519 public key. */
  readonly authority: Uint8Array;
  readonly signature: Uint8Array;
}

/** Serials an authority has revoked, signed by it. */
export interface RevocationList {
  readonly authority: Uint8Array;
  readonly issuedAt: number;
  readonly serials: readonly number[];
  readonly signature: Uint8Array;
}

/** Why a certificate is not acceptable (see {@link checkCertificate}). */
export type CertificateProblem =
  | 'malformed'
  | 'untrusted-authority'
  | 'bad-signature'
  | 'not-yet-valid'
  | 'expired'
  | 'revoked'
  | 'subject-mismatch';

function u64(view: DataView, off: number, v: number): void {
  view.setUint32(off, Math.floor(v / 2 ** 32), false);
  view.setUint32(off + 4, v >>> 0, false);
}

function readU64(view: DataView, off: number): number {
  return view.getUint32(off, false) * 2 ** 32 + view.getUint32(off + 4, false);
}

function body(c: Omit<Certificate, 'signature'>): Uint8Array {
  const out = new Uint8Array(1 + 32 + 24 + 32);
  const view = new DataView(out.buffer);
  out[0] = c.version;
  out.set(c.subject, 1);
  u64(view, 33, c.serial);
  u64(view, 41, c.notBefore);
  u64(view, 49, c.notAfter);
  out.set(c.authority, 57);
  return out;
}

function certStatement(c: Omit<Certificate, 'signature'>): Uint8Array {
  const b = body(c);
  const out = new Uint8Array(CERT_LABEL.length + b.length);
  out.set(CERT_LABEL, 0);
  out.set(b, CERT_LABEL.length);
  return out;
}

function aserial(name: string, v: unknown): asserts v is number {
  aint(name, v, 0, Number.MAX_SAFE_INTEGER);
}

/** Issue a certificate for `subject` with the authority's 32-byte Ed25519 secret key. */
export function issueCertificate(authoritySecretKey: Uint8Array, opts: { subject: Uint8Array; serial: number; notBefore: number; notAfter: number }): Certificate {
  abytes('authoritySecretKey', authoritySecretKey, 32);
  abytes('subject', opts.subject, 32);
  aserial('serial', opts.serial);
  aint('notBefore', opts.notBefore, 0, Number.MAX_SAFE_INTEGER);
  aint('notAfter', opts.notAfter, opts.notBefore, Number.MAX_SAFE_INTEGER);
  const unsigned = {
    version: CERTIFICATE_VERSION,
    subject: Uint8Array.from(opts.subject),
    serial: opts.serial,
    notBefore: opts.notBefore,
    notAfter: opts.notAfter,
    authority: ed25519PublicKey(authoritySecretKey),
  };
  return Object.freeze({ ...unsigned, signature: ed25519Sign(authoritySecretKey, certStatement(unsigned)) });
}

/** The 153-byte wire encoding of a certificate. */
export function encodeCertificate(c: Certificate): Uint8Array {
  const out = new Uint8Array(CERTIFICATE_BYTES);
  out.set(body(c), 0);
  out.set(c.signature, CERTIFICATE_BYTES - 64);
  return out;
}

/** Parse the wire encoding; undefined when it is not a well-formed certificate (never throws). */
export function decodeCertificate(bytes: unknown): Certificate | undefined {
  if (!(bytes instanceof Uint8Array) || bytes.length !== CERTIFICATE_BYTES) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  if (bytes[0] !== CERTIFICATE_VERSION) return undefined;
  const serial = readU64(view, 33);
  const notBefore = readU64(view, 41);
  const notAfter = readU64(view, 49);
  if (!Number.isSafeInteger(serial) || !Number.isSafeInteger(notBefore) || !Number.isSafeInteger(notAfter) || notAfter < notBefore) return undefined;
  return Object.freeze({
    version: CERTIFICATE_VERSION,
    subject: bytes.slice(1, 33),
    serial,
    notBefore,
    notAfter,
    authority: bytes.slice(57, 89),
    signature: bytes.slice(89, 153),
  });
}

/** Revoked serials per authority (hex of the authority key -> serials). */
export type RevokedSerials = ReadonlyMap<string, ReadonlySet<number>>;

export interface CertificateCheck {
  /** Pinned authority public keys. */
  readonly authorities: readonly Uint8Array[];
  /** Unix seconds to check the validity window against. */
  readonly now: number;
  /** The key the certificate must certify (the peer's advertised verify key). */
  readonly subject?: Uint8Array;
  readonly revoked?: RevokedSerials;
}

const hexOf = bytesToHex;

/**
 * Undefined when `cert` is a valid certificate from a pinned authority for
 * `check.subject`, inside its validity window and not revoked; otherwise
 * the first problem found. Never throws.
 */
export function checkCertificate(cert: Certificate | undefined, check: CertificateCheck): CertificateProblem | undefined {
  if (!cert || !(cert.subject instanceof Uint8Array) || cert.subject.length !== 32 || !(cert.authority instanceof Uint8Array) || cert.authority.length !== 32 || !(cert.signature instanceof Uint8Array) || cert.signature.length !== 64) return 'malformed';
  if (check.subject && !bytesEqual(cert.subject, check.subject)) return 'subject-mismatch';
  if (!check.authorities.some((a) => bytesEqual(a, cert.authority))) return 'untrusted-authority';
  if (!ed25519Verify(cert.authority, certStatement(cert), cert.signature)) return 'bad-signature';
  if (check.now < cert.notBefore) return 'not-yet-valid';
  if (check.now > cert.notAfter) return 'expired';
  if (check.revoked?.get(hexOf(cert.authority))?.has(cert.serial)) return 'revoked';
  return undefined;
}

function crlStatement(authority: Uint8Array, issuedAt: number, serials: readonly number[]): Uint8Array {
  const out = new Uint8Array(CRL_LABEL.length + 32 + 8 + 4 + 8 * serials.length);
  const view = new DataView(out.buffer);
  out.set(CRL_LABEL, 0);
  let off = CRL_LABEL.length;
  out.set(authority, off);
  off += 32;
  u64(view, off, issuedAt);
  off += 8;
  view.setUint32(off, serials.length, false);
  off += 4;
  for (const s of serials) {
    u64(view, off, s);
    off += 8;
  }
  return out;
}

/** Sign a revocation list (serials are sorted and de-duplicated). */
export function signRevocationList(authoritySecretKey: Uint8Array, opts: { issuedAt: number; serials: readonly number[] }): RevocationList {
  abytes('authoritySecretKey', authoritySecretKey, 32);
  aint('issuedAt', opts.issuedAt, 0, Number.MAX_SAFE_INTEGER);
  if (!Array.isArray(opts.serials)) throw new InvalidArgument('serials: expected an array');
  opts.serials.forEach((s, i) => aserial(`serials[${i}]`, s));
  const serials = [...new Set(opts.serials)].sort((a, b) => a - b);
  const authority = ed25519PublicKey(authoritySecretKey);
  return Object.freeze({ authority, issuedAt: opts.issuedAt, serials: Object.freeze(serials), signature: ed25519Sign(authoritySecretKey, crlStatement(authority, opts.issuedAt, serials)) });
}

/** Does the list carry a valid signature of its authority, with strictly ascending serials? Never throws. */
export function verifyRevocationList(list: RevocationList): boolean {
  if (!list || !(list.authority instanceof Uint8Array) || list.authority.length !== 32 || !(list.signature instanceof Uint8Array) || list.signature.length !== 64) return false;
  if (!Number.isSafeInteger(list.issuedAt) || list.issuedAt < 0 || !Array.isArray(list.serials)) return false;
  for (let i = 0; i < list.serials.length; i++) {
    const s = list.serials[i];
    if (!Number.isSafeInteger(s) || (s as number) < 0 || (i > 0 && (s as number) <= list.serials[i - 1]!)) return false;
  }
  return ed25519Verify(list.authority, crlStatement(list.authority, list.issuedAt, list.serials), list.signature);
}
