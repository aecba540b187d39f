/**
 * Test helpers for multi-process runs: bundle the `fedveil` command once
 * with esbuild (starting 20+ Node processes from TypeScript through tsx is
 * too slow on 2 cores), spawn it, and wait for lines on its output. Every
 * wait is bounded; a wait that times out fails the test with what was seen.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';

export const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');
export const ARTIFACTS = path.join(ROOT, 'test-artifacts');

/** test-artifacts/ ignores itself, so nothing produced by tests gets committed. */
export function artifactsDir(sub: string): string {
  mkdirSync(ARTIFACTS, { recursive: true });
  writeFileSync(path.join(ARTIFACTS, '.gitignore'), '*\n');
  const dir = path.join(ARTIFACTS, sub);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** Bundle src/cli/main.ts to one ES module (dependencies stay in node_modules). */
export async function buildCli(name: string): Promise<string> {
  const outfile = path.join(artifactsDir('cli'), `${name}.mjs`);
  await build({ entryPoints: [path.join(ROOT, 'src/cli/main.ts')], bundle: true, platform: 'node', format: 'esm', target: 'node20', packages: 'external', outfile, logLevel: 'error' });
  return outfile;
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
  return {
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
