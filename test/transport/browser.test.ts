/**
 * Real browsers: headless Chromium (Debian's `chromium`, driven by
 * playwright-core) runs 3 tabs of the demo page served by
 * `fedveil serve --demo`, next to 2 `fedveil join` processes, through a
 * complete training round; the aggregate must equal the plain sum of the 5
 * participants' encoded updates (revealed to the test only: files for the
 * Node clients, page state for the tabs), and the tabs must have masked
 * with the WebCrypto AES-CTR PRG, not noble. A screenshot of the demo page is
 * saved to test-artifacts/demo.png.
 *
 * Condition: needs Chromium at $CHROMIUM_PATH or /usr/bin/chromium (`.ci/run`
 * installs it when root). Without it the test is skipped, and its title
 * says so.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { ROOT, artifactsDir, buildCli, exitWithin, killAll, plainSum, spawnCli } from './procs.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const HAVE_CHROMIUM = existsSync(CHROMIUM);
const maybe = HAVE_CHROMIUM ? test : test.skip;

interface PageState {
  status: string;
  completed: number;
  error: string | null;
  inputs: Array<{ round: number; identity: string; input: number[] }>;
  log: string[];
  /** Mask PRG backend of the tab's SecAgg client and mask vectors added per backend. */
  maskPrg: { backend: string; adds: { node: number; webcrypto: number; noble: number } };
}

describe('browser clients (headless Chromium)', () => {
  // A failed expectation must not leave `fedveil join` / `serve` running (jest would never exit).
  afterEach(killAll);

  maybe(`3 Chromium tabs and 2 Node clients complete a training round with the exact sum${HAVE_CHROMIUM ? '' : ` [SKIPPED: no Chromium at ${CHROMIUM}; install the Debian package chromium]`}`, async () => {
    const cli = await buildCli('browser');
    // `serve --demo` serves the bundle next to its own cli/ directory (per run, see buildCli).
    const bundleDir = path.resolve(path.dirname(cli), '..', 'browser');
    const built = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'build-browser.mjs'), '--outdir', bundleDir], { encoding: 'utf8' });
    expect(built.status).toBe(0);
    const dir = artifactsDir('browser-run');
    const results = path.join(dir, `results-${process.pid}.jsonl`);
    const bits = 24;
    const serve = spawnCli(cli, ['serve', '--port', '0', '--demo', '--enrol-token', 'demo-token', '--model', 'softmax:6:3', '--bits', String(bits), '--min-clients', '5', '--rounds', '1', '--results', results, '--stage-timeout', '600000', '--auth-timeout', '600000', '--idle-timeout', '600000']);
    let browser: Browser | undefined;
    try {
      const url = (await serve.waitLine(/listening on ws:\/\//, 60000)).match(/(ws:\/\/\S+)/)![1]!;
      const http = url.replace(/^ws/, 'http');
      browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync'] });
      const context = await browser.newContext({ viewport: { width: 1000, height: 900 } });
      const pages = await Promise.all([0, 1, 2].map(() => context.newPage()));
      await Promise.all(pages.map((p) => p.goto(`${http}demo/#token=demo-token`)));
      const nodes = [0, 1].map(() => spawnCli(cli, ['join', '--server', url, '--enrol-token', 'demo-token', '--insecure-dev-policy'], { FEDVEIL_REVEAL_DIR: dir }));
      const exits = await Promise.all(nodes.map((n) => exitWithin(n, 150000)));
      expect(exits.map((e) => e.code)).toEqual([0, 0]);
      for (const p of pages) await p.waitForFunction(() => (window as unknown as { fedveilDemo?: PageState }).fedveilDemo?.status !== 'running', undefined, { timeout: 60000 });
      const states = await Promise.all(pages.map((p) => p.evaluate(() => (window as unknown as { fedveilDemo: PageState }).fedveilDemo)));
      for (const s of states) {
        expect(s.error).toBeNull();
        expect(s.status).toBe('done');
        expect(s.completed).toBe(1);
        // The tabs mask with WebCrypto AES-CTR (self mask + one per neighbour; 3 vectors per
        // tab in this 5-client round), never with the noble fallback.
        expect(s.maskPrg.backend).toBe('webcrypto');
        expect(s.maskPrg.adds.webcrypto).toBeGreaterThanOrEqual(1 + s.completed);
        expect(s.maskPrg.adds.noble).toBe(0);
        expect(s.maskPrg.adds.node).toBe(0);
        expect(s.log.some((l) => l.includes('mask PRG webcrypto'))).toBe(true);
      }
      const shot = path.join(artifactsDir(''), 'demo.png');
      await pages[0]!.screenshot({ path: shot, fullPage: true });
      expect(statSync(shot).size).toBeGreaterThan(1000);
      expect(readFileSync(shot).subarray(1, 4).toString()).toBe('PNG');
      expect((await exitWithin(serve, 30000)).code).toBe(0);

      const [r] = readFileSync(results, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { survivors: string[]; sum: number[] });
      expect(r!.survivors).toHaveLength(5);
      const plain = new Map<string, number[]>();
      for (const s of states) for (const i of s.inputs) plain.set(i.identity, i.input);
      for (const id of r!.survivors) if (!plain.has(id)) plain.set(id, JSON.parse(readFileSync(path.join(dir, `1-${id}.json`), 'utf8')) as number[]);
      expect(states.every((s) => r!.survivors.includes(s.inputs[0]!.identity))).toBe(true);
      expect(r!.sum).toEqual(plainSum(r!.survivors.map((id) => plain.get(id)!), bits));
    } finally {
      await browser?.close();
      if (serve.child.exitCode === null) serve.child.kill('SIGKILL');
    }
    // Deadlines (stage, auth, idle: 10 min) only bound the run; the jest timeout is above the sum of the waits.
  }, 600000);
});
