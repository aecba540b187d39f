import { Command } from 'commander';
import { mkdtempSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jest } from '@jest/globals';
import { register } from '../../src/cli/simulate.js';
import { DEFAULT_SIMULATION } from '../../src/fl/simulation.js';
import { verifyLedger } from '../../src/dp/ledger-verify.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'fedveil-sim-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function program(): Command {
  const p = new Command();
  p.exitOverride();
  register(p);
  return p;
}

test('CLI option defaults match DEFAULT_SIMULATION', () => {
  const sim = program().commands.find((c) => c.name() === 'simulate')!;
  const dflt = (flag: string): unknown => sim.options.find((o) => o.long === flag)?.defaultValue;
  expect(dflt('--clients')).toBe(DEFAULT_SIMULATION.clients);
  expect(dflt('--rounds')).toBe(DEFAULT_SIMULATION.rounds);
  expect(dflt('--sample-rate')).toBe(DEFAULT_SIMULATION.sampleRate);
  expect(dflt('--epsilon')).toBe(DEFAULT_SIMULATION.epsilon);
  expect(dflt('--delta')).toBe(DEFAULT_SIMULATION.delta);
  expect(dflt('--clip-norm')).toBe(DEFAULT_SIMULATION.clipNorm);
  expect(dflt('--hidden')).toBe(DEFAULT_SIMULATION.hidden);
  expect(dflt('--lr')).toBe(DEFAULT_SIMULATION.learningRate);
  expect(dflt('--dropout')).toBe(DEFAULT_SIMULATION.dropout);
  expect(dflt('--bits')).toBe(DEFAULT_SIMULATION.bits);
});

test('simulate --json prints one object and writes a ledger that verifies', async () => {
  const ledger = join(dir, 'l.jsonl');
  const out: string[] = [];
  const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out.push(String(chunk));
    return true;
  });
  try {
    await program().parseAsync(['node', 'fedveil', 'simulate', '--clients', '20', '--sample-rate', '0.5', '--rounds', '2', '--train-examples', '400',
      '--test-examples', '200', '--model', 'linear', '--dropout', '0', '--mechanism', 'skellam', '--ledger', ledger, '--seed', '3', '--json']);
  } finally {
    spy.mockRestore();
  }
  expect(out).toHaveLength(1);
  const obj = JSON.parse(out[0]!) as { parameters: { clients: number }; rounds: Array<{ round: number; accuracy: number }>; final: { accuracy: number; epsilon: number; delta: number } };
  expect(obj.parameters.clients).toBe(20);
  expect(obj.rounds.map((r) => r.round)).toEqual([1, 2]);
  expect(obj.final.delta).toBe(1e-5);
  expect(obj.final.epsilon).toBeGreaterThan(0);
  expect(obj.final.epsilon).toBeLessThanOrEqual(8);
  const report = verifyLedger(readFileSync(ledger));
  expect(report.valid).toBe(true);
});
