import { DEFAULT_CLIENT_POLICY, insecureDevelopmentPolicy, makeClientPolicy, parseCertificate } from '../../src/fl/policy.js';
import { InvalidArgument } from '../../src/errors.js';
import { expectFedveilError } from '../expect-error.js';
import { ed25519KeyPair } from '../../src/crypto/signatures.js';
import { encodeCertificate, issueCertificate, signRevocationList } from '../../src/crypto/certificate.js';

const hexOf = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const authority = ed25519KeyPair();
const other = ed25519KeyPair();

/** The InvalidArgument `fn` throws, so the field it names can be checked. */
function invalid(fn: () => unknown): InvalidArgument {
  return expectFedveilError(fn, InvalidArgument, 'INVALID_ARGUMENT');
}

describe('client policy', () => {
  test('defaults are the documented strict ones', () => {
    const p = makeClientPolicy({});
    expect(p.mode).toBe('active');
    expect(p.requireCertificates).toBe(true);
    expect(p.authorities).toEqual([]);
    expect([p.minRoster, p.minThreshold, p.colluders, p.minHonest]).toEqual([DEFAULT_CLIENT_POLICY.minRoster, DEFAULT_CLIENT_POLICY.minThreshold, DEFAULT_CLIENT_POLICY.colluders, DEFAULT_CLIENT_POLICY.minHonest]);
    expect(p.dp.required).toBe(true);
    expect(p.dp.minNoiseMultiplier).toBe(0.5);
    expect(p.budget.epsilon).toBe(10);
    expect(Object.isFrozen(p) && Object.isFrozen(p.dp)).toBe(true);
  });

  test('a misspelt or unknown field is refused, never ignored', () => {
    expect(invalid(() => makeClientPolicy({ minRooster: 3 })).message).toContain('policy.minRooster');
    expect(invalid(() => makeClientPolicy({ dp: { minNoiseMultiplyer: 0.1 } })).message).toContain('policy.dp.minNoiseMultiplyer');
    expect(invalid(() => makeClientPolicy({ budget: { epsilonn: 1 } })).message).toContain('policy.budget.epsilonn');
  });

  test.each([
    [{ mode: 'passive' }, 'policy.mode'],
    [{ authorities: ['00'] }, 'policy.authorities[0]'],
    [{ minRoster: 1 }, 'policy.minRoster'],
    [{ colluders: 5, minThreshold: 5 }, 'policy.colluders'],
    [{ dp: { mechanism: 'gaussian' } }, 'policy.dp.mechanism'],
    [{ dp: { minNoiseMultiplier: 0 } }, 'policy.dp.minNoiseMultiplier'],
    [{ dp: { minBits: 20, maxBits: 16 } }, 'policy.dp.maxBits'],
    [{ budget: { delta: 1 } }, 'policy.budget.delta'],
    [{ requireCertificates: 'yes' }, 'policy.requireCertificates'],
  ])('%j is refused naming %s', (input, field) => {
    expect(invalid(() => makeClientPolicy(input)).message).toContain(field);
  });

  test('revocation lists must verify and come from a pinned authority', () => {
    const crl = signRevocationList(authority.secretKey, { issuedAt: 5, serials: [3, 4] });
    const json = { authority: hexOf(crl.authority), issuedAt: crl.issuedAt, serials: [...crl.serials], signature: hexOf(crl.signature) };
    expect(makeClientPolicy({ authorities: [hexOf(authority.publicKey)], revocations: [json] }).revocations[0]!.serials).toEqual([3, 4]);
    expect(invalid(() => makeClientPolicy({ authorities: [hexOf(authority.publicKey)], revocations: [{ ...json, serials: [3] }] })).message).toContain('policy.revocations[0]');
    expect(invalid(() => makeClientPolicy({ authorities: [hexOf(other.publicKey)], revocations: [json] })).message).toContain('does not pin');
  });

  test('the development policy is explicitly weaker, and still requires nothing it cannot check', () => {
    const d = insecureDevelopmentPolicy();
    expect(d.mode).toBe('semi-honest');
    expect(d.requireCertificates).toBe(false);
    expect(d.dp.required).toBe(false);
    expect(d.dp.minNoiseMultiplier).toBe(0.5);
  });

  test('certificates parse from their file form and refuse anything else', () => {
    const client = ed25519KeyPair();
    const bytes = encodeCertificate(issueCertificate(authority.secretKey, { subject: client.publicKey, serial: 9, notBefore: 0, notAfter: 10 }));
    expect(parseCertificate({ certificate: hexOf(bytes) }).serial).toBe(9);
    expectFedveilError(() => parseCertificate({ certificate: hexOf(bytes).slice(2) }), InvalidArgument, 'INVALID_ARGUMENT');
    expectFedveilError(() => parseCertificate({}), InvalidArgument, 'INVALID_ARGUMENT');
  });
});
