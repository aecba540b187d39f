/**
 * Accounting benchmark: epsilon of T rounds of the Poisson-subsampled
 * Gaussian mechanism (q = 0.04, z = 1.5, delta = 1e-5: the Opacus example)
 * for T = 2250 and T = 10^4, with each accountant. Reports medians of
 * repeated runs, the value, and its relative difference to Google's
 * dp_accounting (reference values below).
 *
 * The RDP row times the whole curve computation (the accountant's memo
 * bypassed); the memoised row is what repeated audits of one (q, z) pay.
 *
 * Targets (issue 4): RDP warm < 5 ms; PLD < 0.25 s with epsilon within 1%
 * of dp_accounting's PLD.
 *
 * Reference values: dp_accounting at commit b5b0286 of
 * github.com/google/differential-privacy (python/dp_accounting), Python
 * 3.11.7, numpy 2.4.6, scipy 1.17.1, with absl.logging stubbed:
 *   RdpAccountant().compose(PoissonSampledDpEvent(0.04, GaussianDpEvent(1.5)), T).get_epsilon(1e-5)
 *   PLDAccountant().compose(<same>, T).get_epsilon(1e-5)   (value_discretization_interval 1e-4)
 * Its timings on the same machine (median, loaded shared host): RDP 0.09 s,
 * PLD 0.94 s (T = 2250) and 1.74 s (T = 10^4).
 *
 * Run: npx tsx bench/accounting.ts [--json]
 */
import os from 'node:os';
import { DEFAULT_RDP_ORDERS, GdpAccountant, PldAccountant, RdpAccountant, poissonGaussianRounds, rdpPoissonSubsampledGaussian, rdpToEpsilon } from '../src/dp/index.js';

const Q = 0.04;
const Z = 1.5;
const DELTA = 1e-5;

const REFERENCE: Record<number, { rdp: number; pld: number; pythonRdpSeconds: number; pythonPldSeconds: number }> = {
  2250: { rdp: 7.329334702381698, pld: 6.768787373891152, pythonRdpSeconds: 0.095, pythonPldSeconds: 0.94 },
  10000: { rdp: 17.90215192181624, pld: 16.704019770580995, pythonRdpSeconds: 0.088, pythonPldSeconds: 1.74 },
};

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : 0.5 * (s[m - 1]! + s[m]!);
}

function time(fn: () => number, runs: number, warmup: number): { ms: number; value: number } {
  let value = NaN;
  for (let i = 0; i < warmup; i++) value = fn();
  const ts: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    value = fn();
    ts.push(performance.now() - t);
  }
  return { ms: median(ts), value };
}

interface Row {
  rounds: number;
  accountant: string;
  epsilon: number;
  reference: number | null;
  relDiff: number | null;
  medianMs: number;
  runs: number;
  target: string;
}

const rows: Row[] = [];
for (const T of [2250, 10000]) {
  const event = poissonGaussianRounds(Z, Q, T);
  const ref = REFERENCE[T]!;
  // The accountant memoises (q, z) curves; the first row times the full computation it would do uncached.
  const rdp = time(() => {
    const curve = rdpPoissonSubsampledGaussian(Q, Z, DEFAULT_RDP_ORDERS);
    for (let i = 0; i < curve.length; i++) curve[i]! *= T;
    return rdpToEpsilon(DEFAULT_RDP_ORDERS, curve, DELTA).epsilon;
  }, 21, 5);
  rows.push({ rounds: T, accountant: 'rdp', epsilon: rdp.value, reference: ref.rdp, relDiff: rdp.value / ref.rdp - 1, medianMs: rdp.ms, runs: 21, target: '< 5 ms warm' });
  const memo = time(() => new RdpAccountant().compose(event).epsilon(DELTA), 21, 5);
  rows.push({ rounds: T, accountant: 'rdp (memoised curve)', epsilon: memo.value, reference: ref.rdp, relDiff: memo.value / ref.rdp - 1, medianMs: memo.ms, runs: 21, target: '-' });
  const pld = time(() => new PldAccountant().compose(event).epsilon(DELTA), 7, 1);
  rows.push({ rounds: T, accountant: 'pld', epsilon: pld.value, reference: ref.pld, relDiff: pld.value / ref.pld - 1, medianMs: pld.ms, runs: 7, target: '< 250 ms, within 1%' });
  const fine = time(() => new PldAccountant({ valueDiscretizationInterval: 1e-4 }).compose(event).epsilon(DELTA), 3, 0);
  rows.push({ rounds: T, accountant: 'pld (grid 1e-4)', epsilon: fine.value, reference: ref.pld, relDiff: fine.value / ref.pld - 1, medianMs: fine.ms, runs: 3, target: 'dp_accounting grid' });
  const gdp = time(() => new GdpAccountant().compose(event).epsilon(DELTA), 21, 5);
  rows.push({ rounds: T, accountant: 'gdp (approximate)', epsilon: gdp.value, reference: null, relDiff: null, medianMs: gdp.ms, runs: 21, target: '-' });
}

const machine = {
  cpu: os.cpus()[0]?.model ?? 'unknown',
  cores: os.cpus().length,
  node: process.version,
  platform: `${os.platform()} ${os.arch()}`,
  loadAverage: os.loadavg().map((v) => Number(v.toFixed(2))),
};

if (process.argv.includes('--json')) {
  process.stdout.write(JSON.stringify({ benchmark: 'accounting', q: Q, noiseMultiplier: Z, delta: DELTA, machine, rows, reference: REFERENCE }) + '\n');
} else {
  process.stdout.write(`fedveil accounting benchmark  q=${Q} z=${Z} delta=${DELTA}\n`);
  process.stdout.write(`${machine.cpu} x${machine.cores}, Node ${machine.node}, ${machine.platform}, load ${machine.loadAverage.join(' ')}\n\n`);
  const head = ['T', 'accountant', 'epsilon', 'dp_accounting', 'rel. diff', 'median ms', 'target'];
  const body = rows.map((r) => [
    String(r.rounds),
    r.accountant,
    r.epsilon.toPrecision(10),
    r.reference === null ? '-' : r.reference.toPrecision(10),
    r.relDiff === null ? '-' : r.relDiff.toExponential(2),
    r.medianMs.toFixed(2),
    r.target,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  for (const line of [head, ...body]) process.stdout.write(line.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd() + '\n');
  for (const T of [2250, 10000]) {
    const ref = REFERENCE[T]!;
    const rdp = rows.find((r) => r.rounds === T && r.accountant === 'rdp')!;
    const pld = rows.find((r) => r.rounds === T && r.accountant === 'pld')!;
    process.stdout.write(
      `T=${T}: speed-up vs dp_accounting (its timings recorded on this machine): RDP ${(ref.pythonRdpSeconds * 1000 / rdp.medianMs).toFixed(0)}x, PLD ${(ref.pythonPldSeconds * 1000 / pld.medianMs).toFixed(1)}x\n`,
    );
  }
}
