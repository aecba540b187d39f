/**
 * `fedveil simulate` names the guarantee of every epsilon it prints: per
 * round and in --json, the amplified figure against observers of the
 * released models and the unamplified figure against the coordinator for
 * the simulated client with the most participations and the median client.
 * The coordinator figure is checked against the ledger's participant
 * commitments, recomputed here from the simulated identities.
 */
import { Command } from 'commander';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jest } from '@jest/globals';
import { register } from '../../src/cli/simulate.js';
import { withoutSamplingAmplification, type DpEvent } from '../../src/dp/events.js';
import { verifyLedger } from '../../src/dp/ledger-verify.js';
import { RdpAccountant } from '../../src/dp/rdp.js';

const CLIENTS = 20;
const ROUNDS = 3;
const ARGS = ['--clients', String(CLIENTS), '--sample-rate', '0.5', '--rounds', String(ROUNDS), '--train-examples', '400', '--test-examples', '200',
  '--model', 'linear', '--dropout', '0', '--mechanism', 'skellam', '--seed', '5'];

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'fedveil-sim-guarantees-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function simulate(args: string[]): Promise<string[]> {
  const p = new Command();
  p.exitOverride();
  register(p);
  const out: string[] = [];
  const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out.push(String(chunk));
    return true;
  });
  try {
    await p.parseAsync(['node', 'fedveil', 'simulate', ...args]);
  } finally {
    spy.mockRestore();
  }
  return out;
}

interface CoordinatorFigure {
  guarantee: string; accountant: string; delta: number; identities: number; maxParticipations: number; medianParticipations: number;
  worst: { participations: number; epsilon: number }; median: { participations: number; epsilon: number };
}

test('--json: every round and the final figures carry both guarantees; the coordinator figure matches the ledger\'s commitments', async () => {
  const ledger = join(dir, 'json.jsonl');
  const out = await simulate([...ARGS, '--ledger', ledger, '--json']);
  expect(out).toHaveLength(1);
  const obj = JSON.parse(out[0]!) as {
    rounds: Array<{ round: number; aborted: boolean; epsilon: number; guarantee: string; againstCoordinator: CoordinatorFigure }>;
    final: { epsilon: number; delta: number; guarantee: string; againstCoordinator: CoordinatorFigure };
  };
  const done = obj.rounds.filter((r) => !r.aborted);
  expect(done.length).toBeGreaterThan(0);
  for (const r of done) {
    expect(r.guarantee).toBe('model-observers');
    expect(r.againstCoordinator).toMatchObject({ guarantee: 'coordinator', accountant: 'rdp', delta: 1e-5, identities: CLIENTS });
  }
  const ac = obj.final.againstCoordinator;
  expect(obj.final.guarantee).toBe('model-observers');
  expect(ac.guarantee).toBe('coordinator');

  // Recompute from the ledger: the hashes of the simulated identities, their participations, the k-fold composition.
  const lines = readFileSync(ledger, 'utf8').split('\n').slice(0, -1);
  expect(verifyLedger(lines.join('\n') + '\n').valid).toBe(true);
  const rounds = lines.slice(1).map((l) => JSON.parse(l) as { event: DpEvent; participants: string[]; params: { survivors: number } });
  expect(rounds).toHaveLength(done.length);
  // An auditor knows the population size, not who took part: tally the committed hashes.
  const tally = new Map<string, number[]>();
  rounds.forEach((r, i) => {
    for (const h of r.participants) (tally.get(h) ?? tally.set(h, []).get(h)!).push(i);
  });
  // Each client is one identity: never more hashes than clients.
  expect(tally.size).toBeLessThanOrEqual(CLIENTS);
  const counts = [...[...tally.values()].map((rs) => rs.length), ...new Array<number>(CLIENTS - tally.size).fill(0)].sort((a, b) => a - b);
  expect(ac.maxParticipations).toBe(counts.at(-1));
  expect(ac.medianParticipations).toBe(counts[Math.floor(CLIENTS / 2)]);
  // Per identity: the RDP composition of the unamplified events of its own rounds.
  const epsilonOf = (rs: number[]): number => {
    if (rs.length === 0) return 0;
    const acc = new RdpAccountant();
    for (const i of rs) acc.compose(withoutSamplingAmplification(rounds[i]!.event), 1);
    return acc.epsilon(1e-5);
  };
  const eps = [...[...tally.values()].map(epsilonOf), ...new Array<number>(CLIENTS - tally.size).fill(0)].sort((a, b) => a - b);
  expect(ac.worst.epsilon).toBeCloseTo(eps.at(-1)!, 8);
  expect(ac.median.epsilon).toBeCloseTo(eps[Math.floor(CLIENTS / 2)]!, 8);
  // no amplification against the coordinator: above the amplified figure
  expect(ac.worst.epsilon).toBeGreaterThan(obj.final.epsilon);
});

test('text: a legend names both guarantees, every round line carries both figures, the summary states them apart', async () => {
  const out = (await simulate([...ARGS, '--ledger', join(dir, 'text.jsonl')])).join('');
  expect(out).toMatch(/^eps models\*: epsilon against observers of the released models, amplified by the sampling at q=0\.5, valid only if sampling was done as recorded$/m);
  expect(out).toMatch(/^eps coord max \/ median: epsilon against the coordinator \(no amplification: it chooses the sample\), for the client with the most participations and the median client/m);
  expect(out).toMatch(/^round\s+sampled\s+survived\s+accuracy\s+eps models\*\s+eps coord max \(k\)\s+eps coord median \(k\)\s+bytes\s+seconds$/m);
  const rows = out.split('\n').filter((l) => /^\s+\d+\s/.test(l) && !/aborted/.test(l));
  expect(rows.length).toBeGreaterThan(0);
  for (const row of rows) expect(row).toMatch(/\d+\.\d{3}\s+\d+\.\d{3} \(\d+\)\s+\d+\.\d{3} \(\d+\)\s/);
  expect(out).toMatch(/against observers of the released models \(amplified, valid only if sampling was done as recorded; budget 8, rdp\); against the coordinator \(no amplification\) \d+\.\d{3} for the client with the most participations \(\d+ rounds?\), \d+\.\d{3} for the median client \(\d+ rounds?\)/);
});
