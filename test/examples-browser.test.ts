/**
 * examples/browser: three Chromium tabs, each with its own model (built from
 * the page's module with the bundle's tfjs) and its own locally drawn data,
 * certified by an enrolment authority, train with distributed DP through
 * `fedveil serve --app examples/browser/server-app.mjs`: both training
 * rounds complete with all three tabs in the sum, each tab records its
 * participation in its own IndexedDB ledger, and a federated-evaluation
 * round sums the tabs' 120 held-out examples.
 *
 * Needs Chromium at $CHROMIUM_PATH or /usr/bin/chromium; without it the test
 * is skipped and its title says so.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { ed25519KeyPair } from '../src/crypto/signatures.js';
import { encodeCertificate, issueCertificate } from '../src/crypto/certificate.js';
import { bytesToHex } from '../src/util/hex.js';
import { ROOT, artifactsDir, buildCli, exitWithin, killAll, spawnCli } from './transport/procs.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const HAVE_CHROMIUM = existsSync(CHROMIUM);
const maybe = HAVE_CHROMIUM ? test : test.skip;

afterEach(killAll);

maybe(`examples/browser: 3 tabs train their own model on their own data with DP; every round's sum completes with all 3${HAVE_CHROMIUM ? '' : ` [SKIPPED: no Chromium at ${CHROMIUM}]`}`, async () => {
  const cli = await buildCli('examples-browser');
  const site = artifactsDir('examples-browser-site');
  const built = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'build-browser.mjs'), '--outdir', site], { encoding: 'utf8' });
  expect(built.status).toBe(0);
  for (const f of ['index.html', 'page.mjs', 'model.mjs']) copyFileSync(path.join(ROOT, 'examples', 'browser', f), path.join(site, f));
  const http: Server = createServer((req, res) => {
    const name = (req.url ?? '/').split('?')[0]!.replace(/^\//, '') || 'index.html';
    if (!/^[A-Za-z0-9._-]+$/.test(name) || !existsSync(path.join(site, name))) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': name.endsWith('.html') ? 'text/html' : 'text/javascript' }).end(readFileSync(path.join(site, name)));
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', () => r()));
  const port = (http.address() as { port: number }).port;
  const authority = ed25519KeyPair();
  const now = Math.floor(Date.now() / 1000);
  const tabs = [1, 2, 3].map((serial) => {
    const id = ed25519KeyPair();
    const cert = encodeCertificate(issueCertificate(authority.secretKey, { subject: id.publicKey, serial, notBefore: now - 60, notAfter: now + 3600 }));
    return { secret: bytesToHex(id.secretKey), cert: bytesToHex(cert) };
  });
  const dir = artifactsDir('examples-browser-run');
  const results = path.join(dir, `results-${process.pid}.jsonl`);
  const ledger = path.join(dir, `ledger-${process.pid}.jsonl`);
  const serve = spawnCli(cli, ['serve', '--port', '0', '--authority', bytesToHex(authority.publicKey), '--app', path.join(ROOT, 'examples', 'browser', 'server-app.mjs'),
    '--min-clients', '3', '--rounds', '2', '--colluders', '0', '--noise-multiplier', '1', '--clip', '1', '--ledger', ledger, '--new-ledger', '--federated-eval-every', '2',
    '--results', results, '--stage-timeout', '600000', '--auth-timeout', '600000', '--idle-timeout', '600000']);
  let browser: Browser | undefined;
  try {
    const url = (await serve.waitLine(/listening on ws:\/\//, 60000)).match(/(ws:\/\/\S+)/)![1]!;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
    const context = await browser.newContext();
    const pages = await Promise.all(tabs.map(() => context.newPage()));
    await Promise.all(pages.map((p, i) => p.goto(`http://127.0.0.1:${port}/index.html#url=${encodeURIComponent(url)}&authority=${bytesToHex(authority.publicKey)}&secret=${tabs[i]!.secret}&cert=${tabs[i]!.cert}`)));
    for (const p of pages) await p.waitForFunction(() => (window as unknown as { fedveilExample?: { status: string } }).fedveilExample?.status !== 'running', undefined, { timeout: 240000 });
    const states = await Promise.all(pages.map((p) => p.evaluate(() => (window as unknown as { fedveilExample: { status: string; error: string | null; completed: number; log: string[] } }).fedveilExample)));
    if (states.some((s) => s.error !== null)) console.error(JSON.stringify(states.map((s) => s.log), null, 1), serve.stderr.join('\n'));
    for (const s of states) {
      expect(s.error).toBeNull();
      expect(s.status).toBe('done');
      // Two training rounds and the evaluation round, all with this tab in the sum.
      expect(s.completed).toBe(3);
      expect(s.log.some((l) => /app model tfjs:[0-9a-f]{48} \(99 parameters\), 80 local examples, 40 held-out/.test(l))).toBe(true);
      expect(s.log.some((l) => /privacy spent against the coordinator/.test(l))).toBe(true);
    }
    expect((await exitWithin(serve, 60000)).code).toBe(0);
    const rounds = readFileSync(results, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { round: number; survivors: string[]; accuracy: number | null });
    expect(rounds.map((r) => r.survivors.length)).toEqual([3, 3]);
    expect(serve.stderr.some((l) => /federated evaluation [\d.]+ over 120 held-out examples of 3 clients/.test(l))).toBe(true);
  } finally {
    await browser?.close();
    await new Promise<void>((r) => http.close(() => r()));
    if (serve.child.exitCode === null) serve.child.kill('SIGKILL');
  }
}, 600000);
