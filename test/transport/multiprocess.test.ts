/**
 * Real processes on loopback: one `fedveil serve` and many `fedveil join`
 * (the bundled CLI, see procs.ts). The aggregate is checked against the
 * plain sum of the survivors' inputs, which each client reveals through the
 * FEDVEIL_REVEAL_DIR test hook (the coordinator never sees them). Nothing
 * here asserts on timing: waits are bounded, and dropouts are made
 * deterministic by the FEDVEIL_TEST_STALL hook and explicit kills.
 *
 * Deadlines only bound a run, they never decide its outcome: the
 * coordinator's auth, idle and stage timeouts are 10 minutes (a stage
 * closes early once every live member has spoken or disconnected, so
 * nothing here waits for one), each test's jest timeout exceeds the sum of
 * its own waits, and `afterEach` kills whatever is still running.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { verifyLedgerFile } from '../../src/dp/ledger.js';
import { buildCli, exitWithin, killAll, outcome, plainSum, runDir, spawnCli, type Proc } from './procs.js';

/** Bounds, not expectations: long enough that a loaded machine never hits them. */
const BOUND = ['--auth-timeout', '600000', '--idle-timeout', '600000'];
/** Above the sum of any test's own bounded waits (the ledger test: 570 s). */
const TEST_TIMEOUT = 600000;

let cli: string;
beforeAll(async () => {
  cli = await buildCli('multiprocess');
}, 120000);

afterEach(killAll);

/** Exit outcomes of `procs` (0, or the reason with the process's error line). */
async function outcomes(procs: Proc[], timeoutMs: number): Promise<Array<0 | string>> {
  return Promise.all(procs.map(async (p) => outcome(p, await exitWithin(p, timeoutMs))));
}

interface ResultLine {
  round: number;
  n: number;
  survivors: string[];
  roster: string[];
  sum: number[];
}

function readResults(file: string): ResultLine[] {
  return readFileSync(file, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as ResultLine);
}

function reveal(dir: string, round: number, identity: string): number[] {
  return JSON.parse(readFileSync(path.join(dir, `${round}-${identity}.json`), 'utf8')) as number[];
}

async function startServe(dir: string, args: string[]): Promise<{ serve: Proc; url: string }> {
  const serve = spawnCli(cli, ['serve', '--port', '0', '--enrol-token', 'test-token', '--results', path.join(dir, 'results.jsonl'), ...BOUND, ...args]);
  const line = await serve.waitLine(/listening on wss?:\/\//, 60000);
  return { serve, url: line.match(/(wss?:\/\/\S+)/)![1]! };
}

function join(url: string, dir: string, env: Record<string, string> = {}, args: string[] = []): Proc {
  return spawnCli(cli, ['join', '--server', url, '--enrol-token', 'test-token', '--insecure-dev-policy', ...args], { FEDVEIL_REVEAL_DIR: dir, ...env });
}

const fresh = runDir;

describe('fedveil serve + fedveil join processes on loopback', () => {
  test('a coordinator and 20 join processes complete 3 rounds with the exact sum', async () => {
    const dir = fresh('mp-20');
    const bits = 20;
    const { serve, url } = await startServe(dir, ['--min-clients', '20', '--rounds', '3', '--dim', '64', '--bits', String(bits), '--stage-timeout', '600000']);
    const clients = Array.from({ length: 20 }, () => join(url, dir));
    expect(await outcomes(clients, 240000)).toEqual(new Array(20).fill(0));
    expect(await outcomes([serve], 30000)).toEqual([0]);
    const results = readResults(path.join(dir, 'results.jsonl'));
    expect(results.map((r) => r.round)).toEqual([1, 2, 3]);
    for (const r of results) {
      expect(r.survivors).toHaveLength(20);
      expect(r.sum).toEqual(plainSum(r.survivors.map((id) => reveal(dir, r.round, id)), bits));
    }
    for (const c of clients) expect(c.stderr.join('\n')).toMatch(/done: 3 rounds completed/);
  }, TEST_TIMEOUT);

  test('a client killed after sending its masked input and one killed before: the round completes with the exact sum', async () => {
    const dir = fresh('mp-faults');
    const bits = 16;
    const { serve, url } = await startServe(dir, ['--min-clients', '10', '--rounds', '1', '--dim', '32', '--bits', String(bits), '--dropout', '0.3', '--stage-timeout', '600000']);
    const honest = Array.from({ length: 8 }, () => join(url, dir));
    const killedBefore = join(url, dir, { FEDVEIL_TEST_STALL: 'MaskedInput' });
    const killedAfter = join(url, dir);
    // While `killedBefore` stalls (connected, silent) the stage cannot close,
    // so `killedAfter` is killed mid-round, after its masked input left.
    await Promise.all([killedBefore.waitLine(/stalling before MaskedInput/, 120000), killedAfter.waitLine(/masked input sent/, 120000)]);
    killedAfter.child.kill('SIGKILL');
    await exitWithin(killedAfter, 30000);
    killedBefore.child.kill('SIGKILL');
    expect(await outcomes(honest, 120000)).toEqual(new Array(8).fill(0));
    expect(await outcomes([serve], 30000)).toEqual([0]);
    const [r] = readResults(path.join(dir, 'results.jsonl'));
    const idOf = (p: Proc) => p.stderr.find((l) => l.includes('authenticated'))!.match(/join ([0-9a-f]{8})/)![1]!;
    const beforeId = r!.roster.find((id) => id.startsWith(idOf(killedBefore)))!;
    const afterId = r!.roster.find((id) => id.startsWith(idOf(killedAfter)))!;
    expect(r!.n).toBe(10);
    expect(r!.survivors).not.toContain(beforeId);
    expect(r!.survivors).toContain(afterId);
    expect(r!.survivors).toHaveLength(9);
    expect(r!.sum).toEqual(plainSum(r!.survivors.map((id) => reveal(dir, 1, id)), bits));
  }, TEST_TIMEOUT);

  test('stopping the coordinator mid-round: every client with --no-reconnect exits non-zero with one clear line, no stack trace', async () => {
    const dir = fresh('mp-stop');
    const { serve, url } = await startServe(dir, ['--min-clients', '4', '--rounds', '2', '--dim', '16', '--bits', '16', '--stage-timeout', '600000']);
    const once = ['--no-reconnect'];
    const clients = [join(url, dir, {}, once), join(url, dir, {}, once), join(url, dir, {}, once), join(url, dir, { FEDVEIL_TEST_STALL: 'MaskedInput' }, once)];
    await clients[3]!.waitLine(/stalling before MaskedInput/, 120000);
    serve.child.kill('SIGTERM');
    await exitWithin(serve, 30000);
    const exits = await Promise.all(clients.map((c) => exitWithin(c, 30000)));
    for (const [i, c] of clients.entries()) {
      expect(exits[i]!.code).toBe(1);
      const errLines = c.stderr.filter((l) => l.startsWith('fedveil: '));
      expect(errLines).toEqual([expect.stringMatching(/^fedveil: CONNECTION_LOST: connection to the coordinator lost during round 1 \(code 1001: coordinator shutting down\)$/)]);
      expect(c.stderr.some((l) => /^\s+at /.test(l))).toBe(false);
    }
  }, TEST_TIMEOUT);

  test('DP training rounds with a ledger: stop mid-round, restart, the ledger continues without a gap or a broken chain', async () => {
    const dir = fresh('mp-ledger');
    const ledger = path.join(dir, 'ledger.jsonl');
    const args = ['--model', 'softmax:4:2', '--bits', '24', '--noise-multiplier', '1', '--ledger', ledger, '--epsilon-budget', '1000', '--min-clients', '3', '--dropout', '0.1', '--stage-timeout', '600000'];
    // Run 1: round 1 completes; in round 2 one client stalls before its masked input; the coordinator is stopped
    // (the clients do not reconnect, so run 1 ends with them).
    const first = await startServe(dir, [...args, '--rounds', '3']);
    const once = ['--no-reconnect'];
    const run1 = [join(first.url, dir, {}, once), join(first.url, dir, {}, once), join(first.url, dir, { FEDVEIL_TEST_STALL: 'MaskedInput@2' }, once)];
    await run1[2]!.waitLine(/stalling before MaskedInput in round 2/, 120000);
    await first.serve.waitLine(/round 1: ledger line 1/, 120000);
    first.serve.child.kill('SIGTERM');
    await exitWithin(first.serve, 30000);
    expect(await outcomes(run1, 30000)).toEqual(new Array(3).fill(expect.stringMatching(/^exit 1: /)));
    const afterStop = await verifyLedgerFile(ledger);
    expect(afterStop.valid).toBe(true);
    expect(afterStop.rounds.map((r) => r.round)).toEqual([1]);
    // Run 2: the restarted coordinator continues the same ledger.
    const second = await startServe(dir, [...args, '--rounds', '2']);
    const run2 = [join(second.url, dir), join(second.url, dir), join(second.url, dir)];
    expect(await outcomes(run2, 120000)).toEqual([0, 0, 0]);
    expect(await outcomes([second.serve], 30000)).toEqual([0]);
    const report = await verifyLedgerFile(ledger);
    expect(report.issues).toEqual([]);
    expect(report.valid).toBe(true);
    expect(report.rounds.map((r) => r.round)).toEqual([1, 2, 3]);
    expect(report.rounds.every((r) => r.event.type === 'discrete_gaussian' || r.event.type === 'poisson_sampled')).toBe(true);
  }, TEST_TIMEOUT);
});
