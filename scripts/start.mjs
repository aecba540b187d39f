#!/usr/bin/env node
/**
 * `npm start`: build dist/ when it is missing or older than the sources,
 * then run the main job, `fedveil simulate` (extra arguments are passed on:
 * `npm start -- --rounds 5`).
 *
 * The package runs no install-time script (installing the tarball never
 * builds anything), so a fresh clone is built here on first start.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const entry = path.join(root, 'dist', 'cli', 'main.js');
const outputs = [entry, path.join(root, 'dist', 'browser', 'fedveil-client.js')];

/** Newest modification time of the files under `dir` (recursive). */
function newest(dir) {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

const inputs = Math.max(newest(path.join(root, 'src')), ...['package.json', 'tsconfig.json', 'tsconfig.build.json'].map((f) => statSync(path.join(root, f)).mtimeMs));
const built = outputs.every((f) => existsSync(f)) ? Math.min(...outputs.map((f) => statSync(f).mtimeMs)) : -1;
if (built < inputs) {
  process.stderr.write(built < 0 ? 'npm start: dist/ is missing: building (npm run build)\n' : 'npm start: dist/ is older than src/: rebuilding (npm run build)\n');
  const npm = process.env.npm_execpath;
  // Inside npm, npm_execpath is npm's own CLI script: run it with this node (no shell needed).
  const res = npm && npm.endsWith('.js') ? spawnSync(process.execPath, [npm, 'run', 'build'], { cwd: root, stdio: 'inherit' }) : spawnSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit', shell: process.platform === 'win32' });
  if (res.status !== 0) {
    process.stderr.write(`npm start: the build failed (${res.error ? res.error.message : `exit ${res.status}`})\n`);
    process.exit(res.status || 1);
  }
}

const child = spawn(process.execPath, [entry, 'simulate', ...process.argv.slice(2)], { cwd: root, stdio: 'inherit' });
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
child.on('exit', (code, signal) => {
  process.exitCode = code ?? (signal === 'SIGINT' || signal === 'SIGTERM' ? 130 : 1);
});
