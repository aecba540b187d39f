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
import { lineHash } from '../../src/dp/ledger-format.js';
import { verifyLedger } from '../../src/dp/ledger-verify.js';
import { participantHash } from '../../src/dp/participants.js';
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
  const salt = lineHash(new TextEncoder().encode(lines[0]!));
  const rounds = lines.slice(1).map((l) => JSON.parse(l) as { event: DpEvent; participants: string[]; params: { survivors: number } });
  expect(rounds).toHaveLength(done.length);
  const counts = Array.from({ length: CLIENTS }, (_, i) => {
    const h = participantHash(salt, new TextEncoder().encode(`fedveil-simulated-client/${i}`));
    return rounds.filter((r) => r.participants.includes(h)).length;
  });
  // every committed hash is one of the simulated clients
  expect(counts.reduce((a, b) => a + b, 0)).toBe(rounds.reduce((a, r) => a + r.participants.length, 0));
  const sorted = [...counts].sort((a, b) => a - b);
  const k = sorted[sorted.length - 1]!;
  const m = sorted[Math.floor(CLIENTS / 2)]!;
  expect(ac.maxParticipations).toBe(k);
  expect(ac.worst.participations).toBe(k);
  expect(ac.medianParticipations).toBe(m);
  const unamplified = withoutSamplingAmplification(rounds[0]!.event);
  const kFold = (n: number): number => (n === 0 ? 0 : new RdpAccountant().compose(unamplified, n).epsilon(1e-5));
  expect(ac.worst.epsilon).toBeCloseTo(kFold(k), 8);
  expect(ac.median.epsilon).toBeCloseTo(kFold(m), 8);
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
