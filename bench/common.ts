/**
 * Shared plumbing of the benchmarks in bench/: command-line options, the
 * median, and a description of the machine a run was measured on.
 */
import { cpus, loadavg, totalmem } from 'node:os';

/** `--json` and integer options of a benchmark's command line. */
export function benchArgs(argv: string[] = process.argv.slice(2)): { json: boolean; opt: (name: string, dflt: number) => number; has: (flag: string) => boolean } {
  return {
    json: argv.includes('--json'),
    has: (flag) => argv.includes(flag),
    opt(name, dflt) {
      const i = argv.indexOf(name);
      if (i < 0) return dflt;
      const v = Number(argv[i + 1]);
      if (!Number.isSafeInteger(v) || v < 1) throw new Error(`${name} expects a positive integer`);
      return v;
    },
  };
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** The machine and runtime, for the header of every benchmark report. */
export function machine(): { cpu: string; cores: number; memoryGiB: number; node: string; platform: string; loadAverage1m: number } {
  return {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    loadAverage1m: Math.round(loadavg()[0]! * 100) / 100,
  };
}
