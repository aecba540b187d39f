/**
 * `fedveil authority init | issue | revoke` and `fedveil join --print-key`,
 * spawned through tsx: the files they write verify with the crypto layer and
 * are accepted by the client policy; existing files are never overwritten.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { pathToFileURL } from 'node:url';
import { checkCertificate, decodeCertificate } from '../../src/crypto/certificate.js';
import { makeClientPolicy, parseCertificate } from '../../src/fl/policy.js';

const run = promisify(execFile);
const cli = (args: string[], cwd: string) => run(process.execPath, ['--import', pathToFileURL(path.join(process.cwd(), 'node_modules/tsx/dist/esm/index.mjs')).href, path.join(process.cwd(), 'src/cli/main.ts'), ...args], { cwd, env: { ...process.env, NO_COLOR: '1' } });

describe('fedveil authority', () => {
  test('init, join --print-key, issue and revoke produce files the client policy accepts', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'fedveil-authority-'));
    const auth = (await cli(['authority', 'init', '--out', 'authority.json'], dir)).stdout.trim();
    expect(auth).toMatch(/^[0-9a-f]{64}$/);
    expect(statSync(path.join(dir, 'authority.json')).mode & 0o777).toBe(0o600);
    const key = (await cli(['join', '--identity', 'id.json', '--print-key'], dir)).stdout.trim();
    expect(key).toMatch(/^[0-9a-f]{64}$/);
    await cli(['authority', 'issue', '--key', 'authority.json', '--subject', key, '--serial', '7', '--days', '30', '--out', 'cert.json'], dir);
    const cert = parseCertificate(JSON.parse(readFileSync(path.join(dir, 'cert.json'), 'utf8')));
    const now = Math.floor(Date.now() / 1000);
    expect(checkCertificate(cert, { authorities: [Buffer.from(auth, 'hex')], now, subject: Buffer.from(key, 'hex') })).toBeUndefined();
    expect(cert.notAfter - cert.notBefore).toBe(30 * 86400);
    await cli(['authority', 'revoke', '--key', 'authority.json', '--serial', '7', '--list', 'revoked.json'], dir);
    await cli(['authority', 'revoke', '--key', 'authority.json', '--serial', '9', '--list', 'revoked.json'], dir);
    const list = JSON.parse(readFileSync(path.join(dir, 'revoked.json'), 'utf8')) as { serials: number[] };
    expect(list.serials).toEqual([7, 9]);
    const policy = makeClientPolicy({ authorities: [auth], revocations: [list] });
    const revoked = new Map([[auth, new Set(policy.revocations[0]!.serials)]]);
    expect(checkCertificate(decodeCertificate(Buffer.from((JSON.parse(readFileSync(path.join(dir, 'cert.json'), 'utf8')) as { certificate: string }).certificate, 'hex')), { authorities: [Buffer.from(auth, 'hex')], now, revoked })).toBe('revoked');
  });

  test('an existing key or certificate file is never overwritten: one error line, exit 1', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'fedveil-authority-'));
    await cli(['authority', 'init', '--out', 'authority.json'], dir);
    const before = readFileSync(path.join(dir, 'authority.json'), 'utf8');
    const err = await cli(['authority', 'init', '--out', 'authority.json'], dir).then(() => undefined, (e: { code: number; stderr: string }) => e);
    expect(err?.code).toBe(1);
    expect(err!.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^fedveil: ERROR: authority: cannot create authority.json: it exists/)]);
    expect(readFileSync(path.join(dir, 'authority.json'), 'utf8')).toBe(before);
  });

  test('a subject that is not a 32-byte hex key is a usage error', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'fedveil-authority-'));
    await cli(['authority', 'init', '--out', 'authority.json'], dir);
    const err = await cli(['authority', 'issue', '--key', 'authority.json', '--subject', 'abcd', '--serial', '1', '--out', 'c.json'], dir).then(() => undefined, (e: { code: number; stderr: string }) => e);
    expect(err?.code).toBe(2);
    expect(err!.stderr.trim()).toMatch(/^fedveil: USAGE: authority: --subject must be 32 bytes of hex$/);
  });
});
