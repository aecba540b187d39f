/**
 * `fedveil epsilon` / `fedveil calibrate`: end to end through a spawned CLI
 * (four spawns, ~1-2 s each) and in-process through runEpsilon / runCalibrate.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { runCalibrate, type CalibrateCliOptions } from '../../src/cli/calibrate.js';
import { runEpsilon, type EpsilonCliOptions } from '../../src/cli/epsilon.js';
import { calibrateNoiseMultiplier, computeEpsilon, distributedEvent, poissonSampledEvent, selfComposedEvent } from '../../src/dp/index.js';
import { InvalidArgument } from '../../src/errors.js';
import { expectFedveilRejection } from '../expect-error.js';

const run = promisify(execFile);
const cli = (args: string[]) => run('npx', ['tsx', 'src/cli/main.ts', ...args], { cwd: process.cwd(), env: { ...process.env, NO_COLOR: '1' } });

const MODEL_OBSERVERS = 'against observers of the released models, valid if sampling was done as recorded';

describe('fedveil epsilon / calibrate (spawned)', () => {
  test('epsilon --accountant all --json prints one object with rdp, pld and gdp, each naming its guarantee', async () => {
    const { stdout } = await cli(['epsilon', '--noise-multiplier', '1.5', '--sample-rate', '0.04', '--rounds', '2250', '--delta', '1e-5', '--accountant', 'all', '--json']);
    const out = JSON.parse(stdout) as Record<string, { accountant: string; epsilon: number; delta: number; order?: number; approximate?: boolean; guarantee: string }>;
    expect(Object.keys(out)).toEqual(['rdp', 'pld', 'gdp']);
    expect(Math.abs(out.rdp!.epsilon / 7.3293347 - 1)).toBeLessThan(1e-4);
    expect(out.rdp!.order).toBe(3.9);
    expect(out.rdp!.delta).toBe(1e-5);
    expect(Math.abs(out.pld!.epsilon / 6.768787373891152 - 1)).toBeLessThan(5e-3);
    expect(out.gdp!.approximate).toBe(true);
    for (const k of ['rdp', 'pld', 'gdp']) expect(out[k]!.guarantee).toBe('model-observers');
  });

  test('epsilon text output names the guarantee on every line', async () => {
    const { stdout } = await cli(['epsilon', '--noise-multiplier', '1.5', '--sample-rate', '0.04', '--rounds', '2250', '--delta', '1e-5']);
    expect(stdout.trim().split('\n')).toEqual([`rdp: epsilon = 7.3293347 at delta = 0.00001 (order 3.9); ${MODEL_OBSERVERS}`]);
  });

  test('calibrate --mechanism ddg --json meets the target and names the guarantee', async () => {
    const { stdout } = await cli([
      'calibrate', '--epsilon', '2', '--delta', '1e-5', '--sample-rate', '0.1', '--rounds', '100', '--mechanism', 'ddg',
      '--scale', '100', '--dimension', '1024', '--min-clients', '100', '--tolerance', '1e-3', '--json',
    ]);
    const out = JSON.parse(stdout) as { mechanism: string; noiseMultiplier: number; epsilon: number; guarantee: string; localNoise: { kind: string; sigma: number } };
    expect(out.mechanism).toBe('ddg');
    expect(out.epsilon).toBeLessThanOrEqual(2);
    expect(out.guarantee).toBe('model-observers');
    expect(out.localNoise.kind).toBe('discrete_gaussian');
    expect(out.localNoise.sigma).toBeCloseTo((out.noiseMultiplier * 100) / 10, 9);
  });

  test('bad input is exactly one stderr line, nothing on stdout, and exit code 2 (usage)', async () => {
    const err = await cli(['epsilon', '--noise-multiplier', '1', '--sample-rate', '2', '--rounds', '10', '--delta', '1e-5']).then(
      () => undefined,
      (e: unknown) => e as { code: number; stdout: string; stderr: string },
    );
    expect(err).toBeDefined();
    expect(err!.code).toBe(2);
    expect(err!.stdout).toBe('');
    const lines = err!.stderr.split('\n').filter((l) => l.length > 0);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^fedveil: INVALID_VALUE: .*--sample-rate/);
  });
});

const EPS: EpsilonCliOptions = { noiseMultiplier: 1.5, sampleRate: 0.04, rounds: 2250, delta: 1e-5, accountant: 'rdp', mechanism: 'gaussian', clipNorm: 1, scale: 1 };

describe('guarantee labels (in process)', () => {
  test('q < 1: model-observers; --against coordinator drops the amplification; q = 1: coordinator', async () => {
    const amplified = await runEpsilon(EPS);
    expect(amplified.guarantee).toBe('model-observers');
    const coord = await runEpsilon({ ...EPS, against: 'coordinator' });
    expect(coord.guarantee).toBe('coordinator');
    // the coordinator epsilon is that of T unsampled Gaussians: far larger
    expect(coord.epsilon as number).toBeCloseTo(computeEpsilon({ type: 'self_composed', count: 2250, event: { type: 'gaussian', noiseMultiplier: 1.5 } }, 1e-5).epsilon, 9);
    expect(coord.epsilon as number).toBeGreaterThan(10 * (amplified.epsilon as number));
    expect((await runEpsilon({ ...EPS, sampleRate: 1, rounds: 10 })).guarantee).toBe('coordinator');
  });

  test('distributed mechanisms carry the label too', async () => {
    const r = await runEpsilon({ ...EPS, mechanism: 'skellam', noiseMultiplier: 1, scale: 100, dimension: 1024, minClients: 10, sampleRate: 0.01, rounds: 100 });
    expect(r).toMatchObject({ accountant: 'rdp', guarantee: 'model-observers' });
  });
});

const CAL: CalibrateCliOptions = { epsilon: 2, delta: 1e-5, sampleRate: 0.1, rounds: 100, accountant: 'rdp', tolerance: 1e-3 };

describe('fedveil calibrate --mechanism ddg|skellam (in process)', () => {
  test('skellam with --scale: the same z as calibrateNoiseMultiplier on the same event', async () => {
    const r = await runCalibrate({ ...CAL, mechanism: 'skellam', scale: 100, dimension: 1024, minClients: 100 });
    const ev = (z: number) => selfComposedEvent(poissonSampledEvent(0.1, distributedEvent({ mechanism: 'skellam', clipNorm: 1, noiseMultiplier: z, scale: 100, dimension: 1024, minClients: 100 })), 100);
    const want = calibrateNoiseMultiplier({ epsilon: 2, delta: 1e-5, samplingProbability: 0.1, rounds: 100, tolerance: 1e-3, event: ev });
    expect(r.noiseMultiplier).toBe(want.noiseMultiplier);
    expect(r.epsilon as number).toBeLessThanOrEqual(2);
    expect(r.guarantee).toBe('model-observers');
  });

  test('ddg with --bits chooses the scale per z and meets the target', async () => {
    const r = await runCalibrate({ ...CAL, mechanism: 'ddg', bits: 20, dimension: 1000, minClients: 100, expectedClients: 120 });
    expect(r.epsilon as number).toBeLessThanOrEqual(2);
    expect(r.scale as number).toBeGreaterThan(1);
    expect((r.event as { dimension: number }).dimension).toBe(1024); // padded
  });

  test('--against coordinator calibrates without amplification', async () => {
    const r = await runCalibrate({ ...CAL, against: 'coordinator' });
    expect(r.guarantee).toBe('coordinator');
    expect(r.noiseMultiplier as number).toBeGreaterThan(10);
  });

  test('missing or conflicting options are InvalidArgument', async () => {
    await expectFedveilRejection(runCalibrate({ ...CAL, mechanism: 'ddg', scale: 100 }), InvalidArgument, 'INVALID_ARGUMENT');
    await expectFedveilRejection(runCalibrate({ ...CAL, mechanism: 'ddg', scale: 100, bits: 16, dimension: 8, minClients: 2 }), InvalidArgument, 'INVALID_ARGUMENT');
    await expectFedveilRejection(runCalibrate({ ...CAL, mechanism: 'skellam', scale: 100, dimension: 8, minClients: 2, accountant: 'pld' }), InvalidArgument, 'INVALID_ARGUMENT');
  });
});
