import {
  checkCertificate, decodeCertificate, encodeCertificate, issueCertificate, signRevocationList, verifyRevocationList, CERTIFICATE_BYTES,
} from '../../src/crypto/certificate.js';
import { ed25519KeyPair } from '../../src/crypto/signatures.js';
import { deterministicRandom } from '../../src/crypto/random.js';
import { toHex } from './helpers.js';

const rng = deterministicRandom(new Uint8Array(32).fill(3));
const authority = ed25519KeyPair(rng);
const other = ed25519KeyPair(rng);
const client = ed25519KeyPair(rng);
const cert = issueCertificate(authority.secretKey, { subject: client.publicKey, serial: 7, notBefore: 1000, notAfter: 2000 });
const check = { authorities: [authority.publicKey], now: 1500, subject: client.publicKey };

describe('enrolment certificates', () => {
  test('a certificate from a pinned authority, in its window, for the right key is accepted', () => {
    expect(checkCertificate(cert, check)).toBeUndefined();
  });

  test('encoding round-trips and is the documented 153 bytes', () => {
    const bytes = encodeCertificate(cert);
    expect(bytes.length).toBe(CERTIFICATE_BYTES);
    const back = decodeCertificate(bytes)!;
    expect(toHex(encodeCertificate(back))).toBe(toHex(bytes));
    expect(checkCertificate(back, check)).toBeUndefined();
  });

  test('another authority, a forged signature, a wrong subject, the window and revocation are each refused', () => {
    const forged = issueCertificate(other.secretKey, { subject: client.publicKey, serial: 7, notBefore: 1000, notAfter: 2000 });
    expect(checkCertificate(forged, check)).toBe('untrusted-authority');
    // Other authority's signature pasted onto a certificate naming the pinned authority.
    expect(checkCertificate({ ...forged, authority: authority.publicKey }, check)).toBe('bad-signature');
    expect(checkCertificate({ ...cert, serial: 8 }, check)).toBe('bad-signature');
    expect(checkCertificate({ ...cert, notAfter: 5000 }, check)).toBe('bad-signature');
    expect(checkCertificate(cert, { ...check, subject: other.publicKey })).toBe('subject-mismatch');
    expect(checkCertificate(cert, { ...check, now: 999 })).toBe('not-yet-valid');
    expect(checkCertificate(cert, { ...check, now: 2001 })).toBe('expired');
    const revoked = new Map([[toHex(authority.publicKey), new Set([7])]]);
    expect(checkCertificate(cert, { ...check, revoked })).toBe('revoked');
    const revokedElsewhere = new Map([[toHex(other.publicKey), new Set([7])]]);
    expect(checkCertificate(cert, { ...check, revoked: revokedElsewhere })).toBeUndefined();
    expect(checkCertificate(undefined, check)).toBe('malformed');
  });

  test('decoding refuses wrong lengths, versions and windows without throwing', () => {
    const bytes = encodeCertificate(cert);
    expect(decodeCertificate(bytes.slice(1))).toBeUndefined();
    expect(decodeCertificate('x')).toBeUndefined();
    const v2 = Uint8Array.from(bytes);
    v2[0] = 2;
    expect(decodeCertificate(v2)).toBeUndefined();
    const badWindow = encodeCertificate({ ...cert, notBefore: 3000 });
    expect(decodeCertificate(badWindow)).toBeUndefined();
  });

  test('revocation lists verify, and any change to them does not', () => {
    const crl = signRevocationList(authority.secretKey, { issuedAt: 1600, serials: [9, 7, 7] });
    expect(crl.serials).toEqual([7, 9]);
    expect(verifyRevocationList(crl)).toBe(true);
    expect(verifyRevocationList({ ...crl, serials: [7] })).toBe(false);
    expect(verifyRevocationList({ ...crl, issuedAt: 1601 })).toBe(false);
    expect(verifyRevocationList({ ...crl, authority: other.publicKey })).toBe(false);
    expect(verifyRevocationList({ ...crl, serials: [9, 7] })).toBe(false);
  });
});
