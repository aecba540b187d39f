// Client selection in deployment: `fedveil serve --sample-rate q
// --population n` waits for n ready clients, then takes each independently
// with probability q; the ledger line of a private round records the
// selection and the pool it drew from (what an amplified epsilon assumes).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { buildCli, exitWithin, killAll, outcome, runDir, spawnCli } from '../transport/procs.js';

afterEach(killAll);

test('serve --sample-rate 0.5 --population 6: rosters drawn from the 6 ready clients, each line records the Poisson selection and the pool', async () => {
  const cli = await buildCli('selection');
  const dir = runDir('selection-process');
  const ledger = path.join(dir, 'ledger.jsonl');
  const results = path.join(dir, 'results.jsonl');
  const serve = spawnCli(cli, ['serve', '--port', '0', '--enrol-token', 'tok', '--model', 'softmax:4:2', '--bits', '24', '--noise-multiplier', '5', '--ledger', ledger, '--epsilon-budget', '1000',
    '--min-clients', '2', '--population', '6', '--sample-rate', '0.5', '--rounds', '6', '--mode', 'semi-honest', '--colluders', '0', '--results', results, '--stage-timeout', '600000']);
  const url = (await serve.waitLine(/listening on ws:\/\//, 60000)).match(/(ws:\/\/\S+)/)![1]!;
  const joins = Array.from({ length: 6 }, () => spawnCli(cli, ['join', '--server', url, '--enrol-token', 'tok', '--insecure-dev-policy']));
  expect((await Promise.all(joins.map(async (j) => outcome(j, await exitWithin(j, 240000)))))).toEqual([0, 0, 0, 0, 0, 0]);
  expect(outcome(serve, await exitWithin(serve, 60000))).toBe(0);
  const rows = readFileSync(results, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { n: number });
  // Six round attempts; a draw of fewer than 2 clients is skipped (logged, nothing sent, nothing spent).
  const skipped = serve.stderr.filter((l) => /round \d+ skipped: selected [01] of 6 ready clients/.test(l)).length;
  expect(rows.length + skipped).toBe(6);
  for (const r of rows) expect(r.n).toBeLessThanOrEqual(6);
  // Not every roster is the whole pool (each of 6 completed rosters is the full pool with probability 1/64).
  expect(rows.length === 0 || rows.some((r) => r.n < 6) || skipped > 0).toBe(true);
  const lines = readFileSync(ledger, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { kind: string; meta?: { selection: string; pool: number }; params?: { samplingRate: number } }).filter((l) => l.kind === 'round');
  expect(lines.length).toBeGreaterThanOrEqual(rows.length);
  for (const l of lines) {
    expect(l.meta).toMatchObject({ selection: 'poisson-from-ready-pool q=0.5', pool: 6 });
    expect(l.params!.samplingRate).toBe(0.5);
  }
}, 300000);
