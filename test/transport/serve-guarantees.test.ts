/**
 * `fedveil serve` with a DP model and a ledger (real processes on loopback):
 * every round line commits to the clients whose masked inputs were received
 * (hashes of their public keys), and every epsilon serve prints names its
 * guarantee: the log line per round, `GET /status`, the status page and the
 * `--json` summary carry the ledger's figure with its guarantee and the
 * figure against the coordinator per client (most participations, median).
 * Waits are bounded; nothing asserts on timing.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { verifyLedgerFile } from '../../src/dp/ledger.js';
import { lineHash } from '../../src/dp/ledger-format.js';
import { participantHash } from '../../src/dp/participants.js';
import { buildCli, exitWithin, killAll, runDir, spawnCli, type Proc } from './procs.js';

const BOUND = ['--auth-timeout', '600000', '--idle-timeout', '600000', '--stage-timeout', '600000'];
const N = 3;

let cli: string;
beforeAll(async () => {
  cli = await buildCli('serve-guarantees');
}, 120000);
afterEach(killAll);

interface PrivacyJson {
  epsilon: number; ledgerRounds: number; guarantee: string;
  againstCoordinator: { guarantee: string; identities: number; rounds: number; maxParticipations: number; worst: { participations: number; epsilon: number }; median: { participations: number; epsilon: number } };
}

test('participants are committed per round; the log, /status, the page and --json name both guarantees', async () => {
  const dir = runDir('serve-guarantees');
  const ledger = path.join(dir, 'ledger.jsonl');
  const identities = Array.from({ length: N }, (_, i) => path.join(dir, `id${i}.json`));
  const keys: string[] = [];
  for (const id of identities) {
    const p = spawnCli(cli, ['join', '--identity', id, '--print-key']);
    expect((await exitWithin(p, 60000)).code).toBe(0);
    keys.push(p.stdout[0]!.trim());
  }
  const serve = spawnCli(cli, ['serve', '--port', '0', '--enrol-token', 'tok', '--model', 'softmax:4:2', '--bits', '24', '--noise-multiplier', '1',
    '--ledger', ledger, '--epsilon-budget', '1000', '--min-clients', String(N), '--dropout', '0.1', '--json', ...BOUND]);
  const url = (await serve.waitLine(/listening on wss?:\/\//, 60000)).match(/(wss?:\/\/\S+)/)![1]!;
  const joins: Proc[] = identities.map((id) => spawnCli(cli, ['join', '--server', url, '--enrol-token', 'tok', '--insecure-dev-policy', '--identity', id, '--no-reconnect']));

  // The log line of each round names both guarantees.
  const logged = await serve.waitLine(/round \d+: ledger line 2 written before unmasking/, 300000);
  expect(logged).toMatch(/; epsilon \d+\.\d{4} of 1000 \(delta 0\.00001\); guarantee coordinator: against the coordinator with no sampling amplification claimed \(a client in every round; it holds against observers of the released models too\); against the coordinator per client: guarantee coordinator \(no amplification\): \d+\.\d{4} for the client with the most participations \(2 rounds\), \d+\.\d{4} for the median client \(2 rounds\); 3 clients$/);

  // GET /status and GET / while the coordinator runs.
  const http = url.replace(/^ws/, 'http');
  const status = (await (await fetch(`${http}status`)).json()) as { privacy: PrivacyJson };
  expect(status.privacy.guarantee).toBe('coordinator');
  expect(status.privacy.againstCoordinator).toMatchObject({ guarantee: 'coordinator', identities: N });
  expect(status.privacy.againstCoordinator.maxParticipations).toBeGreaterThanOrEqual(2);
  const page = await (await fetch(http)).text();
  expect(page).toMatch(/<td id="epsilon-spent">[^<]*guarantee coordinator: against the coordinator with no sampling amplification claimed/);
  expect(page).toMatch(/<td id="epsilon-against-the-coordinator">guarantee coordinator \(no amplification\): [^<]*for the client with the most participations/);

  serve.child.kill('SIGTERM');
  await exitWithin(serve, 60000);
  await Promise.all(joins.map((j) => exitWithin(j, 60000)));

  // The ledger: every round commits to the three clients, by the hashes of their public keys.
  const report = await verifyLedgerFile(ledger);
  expect(report.valid).toBe(true);
  const lines = readFileSync(ledger, 'utf8').split('\n');
  const salt = lineHash(new TextEncoder().encode(lines[0]!));
  const hashes = keys.map((k) => participantHash(salt, Uint8Array.from(Buffer.from(k, 'hex')))).sort();
  expect(report.rounds.length).toBeGreaterThanOrEqual(2);
  for (const r of report.rounds) {
    expect(r.participants).toEqual(hashes);
    expect(r.params.survivors).toBe(N);
  }
  // The --json summary (the same privacy object as /status) agrees with the ledger.
  const summary = JSON.parse(serve.stdout.find((l) => l.startsWith('{'))!) as { privacy: PrivacyJson };
  expect(summary.privacy.ledgerRounds).toBe(report.rounds.length);
  expect(summary.privacy.againstCoordinator).toMatchObject({ identities: N, rounds: report.rounds.length, maxParticipations: report.rounds.length });
  // unsampled rounds, every client in every round: the per-client figure is the ledger's
  expect(summary.privacy.againstCoordinator.worst.epsilon).toBeCloseTo(summary.privacy.epsilon, 8);
}, 600000);
