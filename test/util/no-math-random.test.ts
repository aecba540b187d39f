// Invariant I7: all randomness comes from the CSPRNG module. This test fails
// if `Math.random` appears anywhere in src/ (code or comments alike, so that
// nobody re-introduces it "temporarily").
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
}

test('Math.random never appears in src/ (I7)', () => {
  const files = walk(join(process.cwd(), 'src')).filter((f) => /\.(ts|js|mjs)$/.test(f));
  expect(files.length).toBeGreaterThan(0);
  const offenders = files.filter((f) => /Math\s*\.\s*random/.test(readFileSync(f, 'utf8')));
  expect(offenders).toEqual([]);
});
