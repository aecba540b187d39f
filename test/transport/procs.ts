/**
 * Test helpers for multi-process runs: bundle the `fedveil` command once
 * with esbuild (starting 20+ Node processes from TypeScript through tsx is
 * too slow on 2 cores), spawn it, and wait for lines on its output. Every
 * wait is bounded; a wait that times out fails the test with what was seen.
 *
 * Every spawned process is tracked: test files call `killAll()` in
 * `afterEach`, so a failing test never leaves a child behind (its stdio
 * pipes would keep jest, which runs in band on 2 cores, from exiting).
 * Paths are per jest process (`<name>-<pid>`): two runs in the same
 * checkout at once (e.g. `npm test` while a suite is re-run) neither
 * overwrite each other's bundle nor delete each other's run directories.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';

export const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');
export const ARTIFACTS = path.join(ROOT, 'test-artifacts');

/** test-artifacts/ ignores itself, so nothing produced by tests gets committed. */
export function artifactsDir(sub: string): string {
  mkdirSync(ARTIFACTS, { recursive: true });
  const ignore = path.join(ARTIFACTS, '.gitignore');
  if (!existsSync(ignore)) writeFileSync(ignore, '*\n');
  const dir = path.join(ARTIFACTS, sub);
  mkdirSync(dir, { recursive: true });
  return dir;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * A fresh, empty directory `test-artifacts/<name>-<pid>` of this jest
 * process. Directories `<name>-<pid>` of jest processes that no longer
 * exist are removed (never those of a run still going on).
 */
export function runDir(name: string): string {
  const parent = artifactsDir('');
  for (const entry of readdirSync(parent)) {
    const m = entry.startsWith(`${name}-`) ? /^(\d+)$/.exec(entry.slice(name.length + 1)) : null;
    if (m && Number(m[1]) !== process.pid && !alive(Number(m[1]))) rmSync(path.join(parent, entry), { recursive: true, force: true });
  }
  const dir = path.join(parent, `${name}-${process.pid}`);
  rmSync(dir, { recursive: true, force: true });
  return artifactsDir(`${name}-${process.pid}`);
}

/**
 * Bundle src/cli/main.ts to one ES module (dependencies stay in
 * node_modules), at a path of its own per test file and jest process:
 * `test-artifacts/cli-<name>-<pid>/cli/fedveil.mjs` (`serve --demo` looks
 * for the browser bundle in the sibling `browser/`).
 */
export async function buildCli(name: string): Promise<string> {
  const dir = runDir(`cli-${name}`);
  if (process.env.NODE_V8_COVERAGE) {
    // Under `npm run coverage`: one ES module per source file, each with its
    // own inline source map, so the spawned processes' V8 coverage maps back
    // to src/ (a single bundle's many-source map does not map back).
    const entryPoints = sourcesUnder(path.join(ROOT, 'src')).filter((f) => !f.includes(`${path.sep}browser${path.sep}`));
    await build({ entryPoints, outbase: path.join(ROOT, 'src'), outdir: dir, bundle: false, platform: 'node', format: 'esm', target: 'node20', sourcemap: 'inline', logLevel: 'error' });
    return path.join(dir, 'cli', 'main.js');
  }
  const outfile = path.join(dir, 'cli', 'fedveil.mjs');
  await build({ entryPoints: [path.join(ROOT, 'src/cli/main.ts')], bundle: true, platform: 'node', format: 'esm', target: 'node20', packages: 'external', outfile, logLevel: 'error' });
  return outfile;
}

/** The .ts files under `dir`, recursively. */
function sourcesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? sourcesUnder(p) : e.name.endsWith('.ts') ? [p] : [];
  });
}

/** Every spawned process that has not exited yet. */
const live = new Set<Proc>();

/** SIGKILL every spawned process still running and wait for their exits (for `afterEach`). */
export async function killAll(): Promise<void> {
  const procs = [...live];
  for (const p of procs) p.child.kill('SIGKILL');
  await Promise.all(procs.map((p) => p.exited));
}

/**
 * 0 for a clean exit, otherwise the exit code or signal with the process's
 * error line (`fedveil: ...`, or its last stderr line), so that a failed
 * expectation on exit codes says why each process failed.
 */
export function outcome(p: Proc, e: { code: number | null; signal: NodeJS.Signals | null }): 0 | string {
  if (e.code === 0) return 0;
  const err = [...p.stderr].reverse().find((l) => l.startsWith('fedveil: ')) ?? p.stderr.at(-1) ?? '';
  return `${e.code !== null ? `exit ${e.code}` : `signal ${e.signal}`}: ${err}`;
}

export interface Proc {
  readonly child: ChildProcess;
  readonly stdout: string[];
  readonly stderr: string[];
  /** Resolves with the first line (stdout or stderr) matching `re`, seen before or after the call. */
  waitLine(re: RegExp, timeoutMs?: number): Promise<string>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function spawnCli(cli: string, args: string[], env: Record<string, string> = {}): Proc {
  const child = spawn(process.execPath, [cli, ...args], { env: { ...process.env, ...env, FEDVEIL_DEBUG: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
  const stdout: string[] = [];
  const stderr: string[] = [];
  const waiters: Array<{ re: RegExp; resolve: (l: string) => void }> = [];
  const feed = (into: string[]) => {
    let partial = '';
    return (chunk: Buffer) => {
      partial += chunk.toString();
      const lines = partial.split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        into.push(line);
        for (let i = waiters.length - 1; i >= 0; i--) {
          const w = waiters[i]!;
          if (w.re.test(line)) {
            waiters.splice(i, 1);
            w.resolve(line);
          }
        }
      }
    };
  };
  child.stdout!.on('data', feed(stdout));
  child.stderr!.on('data', feed(stderr));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const proc: Proc = {
    child,
    stdout,
    stderr,
    exited,
    waitLine(re: RegExp, timeoutMs = 60000): Promise<string> {
      const seen = [...stdout, ...stderr].find((l) => re.test(l));
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no line matching ${re} within ${timeoutMs} ms; stderr:\n${stderr.slice(-20).join('\n')}`)), timeoutMs);
        timer.unref();
        waiters.push({ re, resolve: (l) => (clearTimeout(timer), resolve(l)) });
      });
    },
  };
  live.add(proc);
  void exited.then(() => live.delete(proc));
  return proc;
}

/** Wait for a process to exit, killing it if it has not within `timeoutMs`. */
export async function exitWithin(p: Proc, timeoutMs = 60000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  const timer = setTimeout(() => p.child.kill('SIGKILL'), timeoutMs);
  timer.unref();
  try {
    return await p.exited;
  } finally {
    clearTimeout(timer);
  }
}

export function plainSum(vectors: number[][], bits: number): number[] {
  const mod = 2 ** bits;
  const out = new Array<number>(vectors[0]?.length ?? 0).fill(0);
  for (const v of vectors) for (let i = 0; i < out.length; i++) out[i] = (out[i]! + v[i]!) % mod;
  return out;
}
