/**
 * The client's checks run in the browser too: a tab running the real
 * browser bundle (runBrowserClient, WebCrypto) with a strict policy joins a
 * malicious coordinator (evil-coordinator.ts over loopback WebSocket, which
 * also serves the page) that sends a sybil roster; the tab refuses with a
 * PolicyViolation naming `authorities` and sends no protocol frame.
 *
 * Condition: needs Chromium at $CHROMIUM_PATH or /usr/bin/chromium (`.ci/run`
 * installs it when root); without it the test is skipped and says why.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { WebSocketServerTransport } from '../../src/transport/ws-server.js';
import { ed25519KeyPair } from '../../src/crypto/signatures.js';
import { encodeCertificate, issueCertificate } from '../../src/crypto/certificate.js';
import { ROOT } from '../transport/procs.js';
import { EvilCoordinator, sybil } from './evil-coordinator.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const HAVE_CHROMIUM = existsSync(CHROMIUM);
const maybe = HAVE_CHROMIUM ? test : test.skip;
const hexOf = (b: Uint8Array): string => Buffer.from(b).toString('hex');

const PAGE = `<!doctype html><meta charset="utf-8"><script type="module">
import { runBrowserClient } from './fedveil-client.js';
const p = new URLSearchParams(location.hash.slice(1));
const bytes = (h) => Uint8Array.from(h.match(/../g).map((x) => parseInt(x, 16)));
window.outcome = null;
runBrowserClient({
  url: p.get('ws'),
  identity: { secretKey: bytes(p.get('sk')), publicKey: bytes(p.get('pk')) },
  certificate: bytes(p.get('cert')),
  ledgerName: 'trust-test',
  policy: { authorities: [p.get('auth')], minRoster: 5, minThreshold: 3, colluders: 0, minHonest: 3, dp: { required: false } },
}).then(() => { window.outcome = { ok: true }; }, (e) => { window.outcome = { ok: false, name: e.name, code: e.code, field: e.field }; });
</script>`;

describe('browser client against a malicious coordinator (headless Chromium)', () => {
  maybe(`a tab on a strict policy refuses a sybil roster before sending anything${HAVE_CHROMIUM ? '' : ` [SKIPPED: no Chromium at ${CHROMIUM}; install the Debian package chromium]`}`, async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'fedveil-trust-browser-'));
    const built = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'build-browser.mjs'), '--outdir', dir], { encoding: 'utf8' });
    expect(built.status).toBe(0);
    writeFileSync(path.join(dir, 'page.html'), PAGE);
    const files: Record<string, string> = { '/page.html': 'text/html', '/fedveil-client.js': 'text/javascript' };
    const transport = new WebSocketServerTransport({
      host: '127.0.0.1', port: 0,
      onRequest: async (req, res) => {
        const p = new URL(req.url ?? '/', 'http://x').pathname;
        if (!files[p]) return false;
        res.writeHead(200, { 'content-type': files[p]! });
        res.end(readFileSync(path.join(dir, p.slice(1))));
        return true;
      },
    });
    const evil = new EvilCoordinator();
    await evil.listen(transport);
    const authority = ed25519KeyPair();
    const tab = ed25519KeyPair();
    const cert = encodeCertificate(issueCertificate(authority.secretKey, { subject: tab.publicKey, serial: 1, notBefore: 0, notAfter: 2 ** 40 }));
    let browser: Browser | undefined;
    try {
      browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync'] });
      const page = await (await browser.newContext()).newPage();
      const url = transport.url();
      await page.goto(`${url.replace(/^ws/, 'http')}page.html#ws=${encodeURIComponent(url)}&sk=${hexOf(tab.secretKey)}&pk=${hexOf(tab.publicKey)}&cert=${hexOf(cert)}&auth=${hexOf(authority.publicKey)}`);
      const [victim] = await evil.waitReady(1);
      const sybils = Array.from({ length: 5 }, () => sybil());
      evil.sendRound({
        round: 1, n: 6, threshold: 4, mode: 'active', dim: 8, bits: 16, task: { kind: 'vector' },
        entries: [{ id: 1, key: tab.publicKey, certificate: cert }, ...sybils.map((s, i) => ({ id: i + 2, key: s.keys.publicKey, certificate: s.certificate }))],
      }, [victim!], [1]);
      await page.waitForFunction(() => (window as unknown as { outcome: unknown }).outcome !== null, undefined, { timeout: 60000 });
      const outcome = await page.evaluate(() => (window as unknown as { outcome: { ok: boolean; name?: string; code?: string; field?: string } }).outcome);
      expect(outcome).toEqual({ ok: false, name: 'PolicyViolation', code: 'POLICY_VIOLATION', field: 'authorities' });
      expect(victim!.sent).toEqual([]);
    } finally {
      await browser?.close();
      await transport.close();
    }
  }, 180000);
});
