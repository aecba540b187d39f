/**
 * The crypto layer must load and agree with itself where `node:crypto` is
 * absent (browsers): bundle src/crypto for the browser platform with esbuild,
 * then run the bundle in a child Node process whose `process.getBuiltinModule`
 * is removed, so only WebCrypto and noble remain.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { prgExpand, x25519Agree, x25519PublicKey } from '../../src/crypto/index.js';

describe('crypto layer without node:crypto (browser bundle)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fedveil-crypto-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('the browser bundle loads without node:crypto and falls back to webcrypto / noble with identical outputs', async () => {
    const entry = fileURLToPath(new URL('../../src/crypto/index.ts', import.meta.url));
    const bundle = join(dir, 'crypto.mjs');
    await build({ entryPoints: [entry], bundle: true, platform: 'browser', format: 'esm', outfile: bundle, logLevel: 'silent' });
    const script = join(dir, 'run.mjs');
    writeFileSync(script, `
      process.getBuiltinModule = undefined;
      const m = await import(${JSON.stringify(bundle)});
      const key = new Uint8Array(16).fill(7);
      const a = await m.prgExpandAsync(key, new Uint32Array(70000), 20);
      const b = m.prgExpand(key, new Uint32Array(70000), 20);
      const sk = new Uint8Array(32).fill(1), pk = m.x25519PublicKey(new Uint8Array(32).fill(2));
      console.log(JSON.stringify({
        sync: m.prgSyncBackend(), async: m.prgBackend(), x25519: m.x25519Backend(),
        prg: Buffer.from(a.buffer).toString('hex'), same: Buffer.from(a.buffer).equals(Buffer.from(b.buffer)),
        shared: Buffer.from(m.x25519Agree(sk, pk)).toString('hex'),
      }));
    `);
    const out = JSON.parse(execFileSync(process.execPath, [script], { encoding: 'utf8' })) as Record<string, unknown>;
    expect(out).toMatchObject({ sync: 'noble', async: 'webcrypto', x25519: 'noble', same: true });
    // and the portable results equal the native (node) ones of this process
    const native = prgExpand(new Uint8Array(16).fill(7), new Uint32Array(70000), 20, 'node');
    expect(out.prg).toBe(Buffer.from(native.buffer).toString('hex'));
    expect(out.shared).toBe(Buffer.from(x25519Agree(new Uint8Array(32).fill(1), x25519PublicKey(new Uint8Array(32).fill(2)), 'node')).toString('hex'));
  });
});
