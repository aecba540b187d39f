/**
 * Resume across a coordinator kill, with real processes: `fedveil serve`
 * (DP training, a ledger, its checkpoint next to it) is killed with SIGKILL
 * after round 2 completed; a new `fedveil serve --resume` on the same port
 * continues from the checkpoint: the next round trains from the checkpoint's
 * model hash (the ledger line records it), the round numbers continue, the
 * joins come back on their own, and `fedveil audit` verifies the ledger.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { buildCli, exitWithin, killAll, outcome, runDir, spawnCli, type Proc } from '../transport/procs.js';

const BOUND = ['--auth-timeout', '600000', '--idle-timeout', '600000', '--stage-timeout', '600000'];
let cli: string;
beforeAll(async () => {
  cli = await buildCli('resume');
}, 120000);
afterEach(killAll);

async function startServe(args: string[]): Promise<{ serve: Proc; url: string }> {
  const serve = spawnCli(cli, ['serve', '--enrol-token', 'tok', ...BOUND, ...args]);
  const line = await serve.waitLine(/listening on wss?:\/\//, 120000);
  return { serve, url: line.match(/(wss?:\/\/\S+)/)![1]! };
}

test('kill the coordinator after round 2, resume from the checkpoint: the model hash carries over, rounds continue, the ledger audits', async () => {
  const dir = runDir('resume-process');
  const ledger = path.join(dir, 'ledger.jsonl');
  const args = ['--model', 'softmax:4:2', '--bits', '24', '--noise-multiplier', '5', '--ledger', ledger, '--epsilon-budget', '1000', '--min-clients', '3', '--dropout', '0.1'];
  const first = await startServe(['--port', '0', ...args, '--rounds', '1000']);
  const port = new URL(first.url).port;
  const joins = [0, 1, 2].map(() => spawnCli(cli, ['join', '--server', first.url, '--enrol-token', 'tok', '--insecure-dev-policy', '--reconnect-initial', '200', '--reconnect-max', '2000']));
  // "round 2 done" is logged after the round's checkpoint is written.
  await first.serve.waitLine(/round 2 done: /, 300000);
  first.serve.child.kill('SIGKILL');
  expect((await exitWithin(first.serve, 30000)).signal).toBe('SIGKILL');
  const state = JSON.parse(readFileSync(path.join(`${ledger}.checkpoint`, 'state.json'), 'utf8')) as { round: number; modelHash: string; ledgerRounds: number };
  expect(state.round).toBeGreaterThanOrEqual(2);

  const second = await startServe(['--port', port, ...args, '--rounds', String(state.round + 2), '--resume']);
  await second.serve.waitLine(new RegExp(`resumed from checkpoint .* after round ${state.round} \\(model ${state.modelHash.slice(0, 16)}`), 60000);
  expect((await Promise.all(joins.map(async (j) => outcome(j, await exitWithin(j, 300000)))))).toEqual([0, 0, 0]);
  expect(outcome(second.serve, await exitWithin(second.serve, 60000))).toBe(0);

  const lines = readFileSync(ledger, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { kind: string; meta?: { modelIn: string; coordinatorRound: number } }).filter((l) => l.kind === 'round');
  // The first line written after the resume trained from the checkpoint's model.
  const resumed = lines.filter((l) => l.meta!.coordinatorRound > state.round);
  expect(resumed.length).toBeGreaterThanOrEqual(2);
  expect(resumed[0]!.meta!.modelIn).toBe(state.modelHash);
  expect(resumed[0]!.meta!.coordinatorRound).toBe(state.round + 1);
  const audit = spawnCli(cli, ['audit', ledger]);
  expect(outcome(audit, await exitWithin(audit, 60000))).toBe(0);
}, 600000);
