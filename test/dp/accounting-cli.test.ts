/**
 * `fedveil epsilon` / `fedveil calibrate` end to end (spawned through tsx;
 * kept to three spawns because each costs ~1-2 s).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);
const cli = (args: string[]) => run('npx', ['tsx', 'src/cli/main.ts', ...args], { cwd: process.cwd(), env: { ...process.env, NO_COLOR: '1' } });

describe('fedveil epsilon / calibrate', () => {
  test('epsilon --accountant all --json prints one object with rdp, pld and gdp', async () => {
    const { stdout } = await cli(['epsilon', '--noise-multiplier', '1.5', '--sample-rate', '0.04', '--rounds', '2250', '--delta', '1e-5', '--accountant', 'all', '--json']);
    const out = JSON.parse(stdout) as Record<string, { accountant: string; epsilon: number; delta: number; order?: number; approximate?: boolean }>;
    expect(Object.keys(out)).toEqual(['rdp', 'pld', 'gdp']);
    expect(Math.abs(out.rdp!.epsilon / 7.3293347 - 1)).toBeLessThan(1e-4);
    expect(out.rdp!.order).toBe(3.9);
    expect(out.rdp!.delta).toBe(1e-5);
    expect(Math.abs(out.pld!.epsilon / 6.768787373891152 - 1)).toBeLessThan(1e-4);
    expect(out.gdp!.approximate).toBe(true);
  });

  test('calibrate --json meets the target', async () => {
    const { stdout } = await cli(['calibrate', '--epsilon', '2', '--delta', '1e-5', '--sample-rate', String(120 / 3383), '--rounds', '100', '--json']);
    const out = JSON.parse(stdout) as { noiseMultiplier: number; epsilon: number };
    expect(out.epsilon).toBeLessThanOrEqual(2);
    expect(out.noiseMultiplier).toBeGreaterThan(1.15);
    expect(out.noiseMultiplier).toBeLessThanOrEqual(1.2);
  });

  test('bad input is one stderr line and exit code 1', async () => {
    await expect(cli(['epsilon', '--noise-multiplier', '1', '--sample-rate', '2', '--rounds', '10', '--delta', '1e-5'])).rejects.toMatchObject({ code: 1 });
  });
});
