// README.md's low-level example ("Each layer is usable on its own"), run as
// written: the code block is taken from README.md, its `from 'fedveil'` is
// pointed at the package's main entry (src/index.ts), and it runs in a fresh
// Node process (tsx). Lines appended after the block report what it computed.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** The first ```ts block after `marker` in README.md. */
function readmeBlock(marker: string): string {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const at = readme.indexOf(marker);
  if (at < 0) throw new Error(`README.md has no "${marker}"`);
  const m = /```ts\n([\s\S]*?)\n```/.exec(readme.slice(at));
  if (!m) throw new Error(`no ts block after "${marker}"`);
  return m[1]!;
}

describe('README low-level example', () => {
  test('runs as written through the package entry: 98 survivors, the noised mean of their updates, a finite epsilon', async () => {
    const block = readmeBlock('Each layer is usable on its own');
    expect(block).toContain("from 'fedveil';");
    const entry = pathToFileURL(join(ROOT, 'src', 'index.ts')).href;
    const report = `
const truth = new Float64Array(dim);
for (const id of survivors) for (let j = 0; j < dim; j++) truth[j]! += updates[id - 1]![j]! / survivors.length;
let err2 = 0;
for (let j = 0; j < dim; j++) err2 += (mean[j]! - truth[j]!) ** 2;
console.log(JSON.stringify({ survivors: [...survivors].sort((a, b) => a - b), length: mean.length, dim, eps, rms: Math.sqrt(err2 / dim),
  z: plan.noiseMultiplier, clip: plan.clipNorm, minClients: plan.minClients }));
`;
    const dir = mkdtempSync(join(tmpdir(), 'fedveil-readme-'));
    try {
      const file = join(dir, 'example.mts');
      writeFileSync(file, block.replace("from 'fedveil';", `from '${entry}';`) + '\n' + report);
      const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', file], { cwd: ROOT, timeout: 120_000 });
      const r = JSON.parse(stdout.trim().split('\n').pop()!) as {
        survivors: number[]; length: number; dim: number; eps: number; rms: number; z: number; clip: number; minClients: number;
      };
      expect(r.survivors).toEqual(Array.from({ length: 100 }, (_, i) => i + 1).filter((id) => id !== 7 && id !== 42));
      expect(r.length).toBe(r.dim);
      expect(Number.isFinite(r.eps)).toBe(true);
      expect(r.eps).toBeGreaterThan(0);
      // The noise is calibrated so that minClients shares sum to std z * C; 98 shares give
      // z * C * sqrt(98 / minClients) on the sum, divided by 98 in the mean (plus rounding).
      const noiseOnly = (r.z * r.clip * Math.sqrt(98 / r.minClients)) / 98;
      expect(r.rms).toBeGreaterThan(0.8 * noiseOnly);
      expect(r.rms).toBeLessThan(2 * noiseOnly);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
