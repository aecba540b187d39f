/**
 * Clients that stay, with real processes on loopback (the bundled CLI, see
 * test/transport/procs.ts): `fedveil serve` killed with SIGKILL mid-run and
 * restarted on the same port with the same ledger, while its `fedveil
 * join` clients reconnect on their own and finish the run; a join process
 * frozen with SIGSTOP past the stage deadline costs its round one stage
 * deadline and takes part again after SIGCONT; SIGINT / SIGTERM end a join
 * with exit 130. The aggregates are checked against the plain sum of the
 * clients' inputs (FEDVEIL_REVEAL_DIR test hook). Nothing asserts a
 * duration: waits are bounded, and each outcome is read from serve's
 * --results file and the processes' exit codes.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { verifyLedgerFile } from '../../src/dp/ledger.js';
import { ClientPrivacyLedger } from '../../src/dp/client-ledger.js';
import { fileClientLedgerStore } from '../../src/dp/client-ledger-node.js';
import { loadOrCreateIdentity } from '../../src/transport/node-client.js';
import { buildCli, exitWithin, killAll, outcome, plainSum, runDir, spawnCli, type Proc } from '../transport/procs.js';

/** Bounds, not expectations. */
const BOUND = ['--auth-timeout', '600000', '--idle-timeout', '600000'];
const TEST_TIMEOUT = 600000;

let cli: string;
beforeAll(async () => {
  cli = await buildCli('reconnect');
}, 120000);
afterEach(killAll);

interface ResultLine {
  round: number;
  n: number;
  survivors: string[];
  roster: string[];
  sum: number[];
  stageMs: Array<{ stage: string; ms: number; viaDeadline: boolean }>;
}

function readResults(file: string): ResultLine[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as ResultLine);
}

const reveal = (dir: string, round: number, id: string): number[] => JSON.parse(readFileSync(path.join(dir, `${round}-${id}.json`), 'utf8')) as number[];

async function until(what: string, ok: () => boolean, timeoutMs: number): Promise<void> {
  for (let waited = 0; !ok(); waited += 100) {
    if (waited > timeoutMs) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The state letter of a Linux process (/proc/PID/stat): 'T' when stopped. */
function processState(pid: number): string {
  return /^\d+ \(.*\) (\S)/.exec(readFileSync(`/proc/${pid}/stat`, 'utf8'))?.[1] ?? '?';
}

async function startServe(args: string[]): Promise<{ serve: Proc; url: string }> {
  const serve = spawnCli(cli, ['serve', '--enrol-token', 'tok', ...BOUND, ...args]);
  const line = await serve.waitLine(/listening on wss?:\/\//, 120000);
  return { serve, url: line.match(/(wss?:\/\/\S+)/)![1]! };
}

describe('fedveil join stays', () => {
  test('the coordinator is killed (SIGKILL) mid-run and restarted on the same port: the clients come back on their own, finish the run, exit 0', async () => {
    const dir = runDir('reconnect-restart');
    const ledger = path.join(dir, 'ledger.jsonl');
    const results = path.join(dir, 'results.jsonl');
    const ids = [0, 1, 2].map((i) => path.join(dir, `id${i}.json`));
    const keys = await Promise.all(ids.map(async (f) => Buffer.from((await loadOrCreateIdentity(f)).publicKey).toString('hex')));
    const dp = ['--model', 'softmax:4:2', '--bits', '24', '--noise-multiplier', '5', '--ledger', ledger, '--epsilon-budget', '1000',
      '--min-clients', '3', '--dropout', '0.1', '--stage-timeout', '600000', '--results', results];
    const first = await startServe(['--port', '0', ...dp, '--rounds', '1000']);
    const port = new URL(first.url).port;
    const joins = ids.map((id) => spawnCli(cli, ['join', '--server', first.url, '--enrol-token', 'tok', '--insecure-dev-policy', '--identity', id,
      '--reconnect-initial', '200', '--reconnect-max', '2000'], { FEDVEIL_REVEAL_DIR: dir }));
    // Round 2's cost is on the ledger, its sum not yet released: the coordinator dies here.
    await first.serve.waitLine(/round \d+: ledger line 2 written before unmasking/, 300000);
    first.serve.child.kill('SIGKILL');
    expect((await exitWithin(first.serve, 30000)).signal).toBe('SIGKILL');
    const before = readResults(results);
    expect(before.length).toBeGreaterThanOrEqual(1);
    // Every client notices and keeps trying while nothing listens.
    await Promise.all(joins.map((j) => j.waitLine(/reconnecting in \d+ ms \(attempt 1\)/, 60000)));

    const second = await startServe(['--port', port, ...dp, '--rounds', '2']);
    expect(second.url).toBe(first.url);
    expect((await Promise.all(joins.map(async (j) => outcome(j, await exitWithin(j, 300000)))))).toEqual([0, 0, 0]);
    expect(outcome(second.serve, await exitWithin(second.serve, 60000))).toBe(0);

    const after = readResults(results).slice(before.length);
    expect(after).toHaveLength(2);
    for (const r of after) {
      expect(r.round).toBeGreaterThan(before.at(-1)!.round);
      // The same three clients' inputs are in every sum after the restart, exactly.
      expect([...r.survivors].sort()).toEqual([...keys].sort());
      expect(r.sum).toEqual(plainSum(r.survivors.map((id) => reveal(dir, r.round, id)), 24));
    }
    for (const j of joins) {
      expect(j.stderr.join('\n')).toMatch(/done: \d+ rounds completed \(coordinator: all rounds completed\)/);
      expect(j.stderr.some((l) => l.startsWith('fedveil: '))).toBe(false);
    }
    // The coordinator's ledger continued without a gap or a broken chain.
    const report = await verifyLedgerFile(ledger);
    expect(report.issues).toEqual([]);
    expect(report.valid).toBe(true);
    // Each client's own ledger spans both coordinator sessions in one signed chain.
    for (const id of ids) {
      const identity = await loadOrCreateIdentity(id);
      const own = await ClientPrivacyLedger.open(fileClientLedgerStore(`${id}.privacy.jsonl`), { signingKey: identity.secretKey, budget: { epsilon: 10, delta: 1e-5 } });
      expect(new Set(own.entries.map((e) => e.coordinator)).size).toBe(2);
      expect(own.entries.length).toBeGreaterThanOrEqual(before.length + 2);
      await own.close();
    }
  }, TEST_TIMEOUT);

  test('a client frozen (SIGSTOP) past the stage deadline holds up one stage only, and after SIGCONT takes part in the next round', async () => {
    const dir = runDir('reconnect-sigstop');
    const results = path.join(dir, 'results.jsonl');
    const bits = 16;
    // Four clients per round: round 1 opens only when the fourth joins, after the frozen one is stopped;
    // round 2 cannot open before the frozen one is back, so it must be in it.
    const { serve, url } = await startServe(['--port', '0', '--min-clients', '4', '--max-clients', '4', '--rounds', '2', '--dim', '16', '--bits', String(bits),
      '--stage-timeout', '8000', '--results', results]);
    const start = (): Proc => spawnCli(cli, ['join', '--server', url, '--enrol-token', 'tok', '--insecure-dev-policy'], { FEDVEIL_REVEAL_DIR: dir });
    const joins = [start(), start(), start()];
    const frozen = joins[2]!;
    // Authenticated and ready, then frozen: it is on round 1's roster but cannot answer. Its `ready` leaves in
    // the same tick as its "authenticated" line; once it sleeps again (state S: back in its event loop) it is out.
    await Promise.all(joins.map((j) => j.waitLine(/authenticated/, 120000)));
    await until('the client to be back in its event loop', () => processState(frozen.child.pid!) === 'S', 30000);
    frozen.child.kill('SIGSTOP');
    await until('the frozen process is stopped', () => processState(frozen.child.pid!) === 'T', 30000);
    joins.push(start());
    try {
      await until('round 1 completes without the frozen client', () => readResults(results).length >= 1, 120000);
    } finally {
      frozen.child.kill('SIGCONT');
    }
    expect(await Promise.all(joins.map(async (j) => outcome(j, await exitWithin(j, 120000))))).toEqual([0, 0, 0, 0]);
    expect(outcome(serve, await exitWithin(serve, 60000))).toBe(0);
    const frozenId = frozen.stderr.find((l) => l.includes('authenticated'))!.match(/join ([0-9a-f]{8})/)![1]!;
    const [r1, r2] = readResults(results);
    expect(r1!.n).toBe(4);
    expect(r1!.survivors).toHaveLength(3);
    expect(r1!.survivors.some((id) => id.startsWith(frozenId))).toBe(false);
    // One stage waited for its deadline; every other stage closed as soon as the live members had spoken.
    expect(r1!.stageMs.filter((s) => s.viaDeadline)).toHaveLength(1);
    expect(r1!.sum).toEqual(plainSum(r1!.survivors.map((id) => reveal(dir, 1, id)), bits));
    expect(r2!.round).toBe(2);
    expect(r2!.survivors).toHaveLength(4);
    expect(r2!.survivors.some((id) => id.startsWith(frozenId))).toBe(true);
    expect(r2!.stageMs.filter((s) => s.viaDeadline)).toHaveLength(0);
    expect(r2!.sum).toEqual(plainSum(r2!.survivors.map((id) => reveal(dir, 2, id)), bits));
  }, TEST_TIMEOUT);

  test('SIGINT while connected and SIGTERM while waiting to reconnect end a join with exit 130 and no error line', async () => {
    const { serve, url } = await startServe(['--port', '0', '--min-clients', '3', '--dim', '8', '--bits', '16']);
    const connected = spawnCli(cli, ['join', '--server', url, '--enrol-token', 'tok', '--insecure-dev-policy']);
    await connected.waitLine(/authenticated/, 60000);
    connected.child.kill('SIGINT');
    const e1 = await exitWithin(connected, 30000);
    serve.child.kill('SIGTERM');
    await exitWithin(serve, 30000);
    // Nothing listens on the port any more: the client waits between attempts.
    const waiting = spawnCli(cli, ['join', '--server', url, '--enrol-token', 'tok', '--insecure-dev-policy', '--reconnect-initial', '60000', '--reconnect-max', '60000']);
    await waiting.waitLine(/reconnecting in \d+ ms \(attempt 1\)/, 60000);
    waiting.child.kill('SIGTERM');
    const e2 = await exitWithin(waiting, 30000);
    expect([e1.code, e2.code]).toEqual([130, 130]);
    for (const p of [connected, waiting]) expect(p.stderr.filter((l) => l.startsWith('fedveil: '))).toEqual([]);
    expect(connected.stderr.join('\n')).toMatch(/SIGINT: leaving/);
    expect(waiting.stderr.join('\n')).toMatch(/SIGTERM: leaving/);
  }, TEST_TIMEOUT);

  test('--no-reconnect keeps the old ending: a lost coordinator is exit 1 with one line; bad backoff bounds are a usage error', async () => {
    const { serve, url } = await startServe(['--port', '0', '--min-clients', '3', '--dim', '8', '--bits', '16']);
    const once = spawnCli(cli, ['join', '--server', url, '--enrol-token', 'tok', '--insecure-dev-policy', '--no-reconnect']);
    await once.waitLine(/authenticated/, 60000);
    serve.child.kill('SIGTERM');
    await exitWithin(serve, 30000);
    expect((await exitWithin(once, 30000)).code).toBe(1);
    expect(once.stderr.filter((l) => l.startsWith('fedveil: '))).toEqual([expect.stringMatching(/^fedveil: CONNECTION_LOST: connection to the coordinator lost \(code 1001: coordinator shutting down\)$/)]);
    const bad = spawnCli(cli, ['join', '--server', url, '--insecure-dev-policy', '--reconnect-initial', '5000', '--reconnect-max', '100']);
    expect((await exitWithin(bad, 30000)).code).toBe(2);
    expect(bad.stderr.filter((l) => l.trim() !== '')).toEqual([expect.stringMatching(/^fedveil: USAGE: join: --reconnect-initial \/ --reconnect-max: backoff maxMs must be/)]);
  }, TEST_TIMEOUT);
});
