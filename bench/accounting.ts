/**
 * Accounting benchmark: epsilon of T rounds of the Poisson-subsampled
 * Gaussian mechanism with each fedveil accountant, and, in the same run,
 * Google's dp_accounting (RdpAccountant, PLDAccountant at its defaults) when
 * python3 can import it. Every figure is a median of repeated runs measured
 * in this process (fedveil) or inside the spawned Python process
 * (dp_accounting, time.perf_counter around compose + get_epsilon); ratios
 * are between medians of the same run. Without dp_accounting the comparison
 * columns say it is unavailable; no timing is ever taken from a file.
 *
 * Finding dp_accounting: DP_ACCOUNTING_PATH (the directory that contains the
 * `dp_accounting` package, e.g. <checkout of google/differential-privacy>/python/dp_accounting),
 * else an importable installed package, else ../differential-privacy/python/dp_accounting.
 * If `absl` is missing, a no-op `absl.logging` is put on the Python path
 * (dp_accounting only logs through it).
 *
 * Rows: rdp = the whole RDP curve at the default orders, converted (the
 * accountant's memo bypassed); pld = computeEpsilon(event, delta, 'pld')
 * (grid chosen from the problem); pld 1e-4 = dp_accounting's grid; gdp
 * (approximate, for reference).
 *
 * Run: npx tsx bench/accounting.ts [--json] [--runs n]
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DEFAULT_RDP_ORDERS, GdpAccountant, PldAccountant, computeEpsilon, poissonGaussianRounds } from '../src/dp/index.js';
import { rdpPoissonSubsampledGaussian, rdpToEpsilon } from '../src/dp/rdp.js';
import { benchArgs, machine, median } from './common.js';

const args = benchArgs();
const RUNS = args.opt('--runs', 7);

interface Case {
  q: number;
  z: number;
  T: number;
  delta: number;
}
const CASES: Case[] = [
  { q: 0.04, z: 1.5, T: 2250, delta: 1e-5 },
  { q: 0.04, z: 1.5, T: 10000, delta: 1e-5 },
  { q: 1e-3, z: 0.8, T: 10000, delta: 1e-6 },
  { q: 0.1, z: 0.9, T: 1000, delta: 1e-5 },
  { q: 1, z: 0.5, T: 1, delta: 1e-5 },
];

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

// ---------------------------------------------------------------------------
// dp_accounting in the same run

const PY = String.raw`
import json, sys, time, statistics
import dp_accounting
from dp_accounting.pld import pld_privacy_accountant
from dp_accounting.rdp import rdp_privacy_accountant
cases, runs = json.loads(sys.argv[1]), int(sys.argv[2])
out = []
for c in cases:
    ev = dp_accounting.SelfComposedDpEvent(dp_accounting.PoissonSampledDpEvent(c["q"], dp_accounting.GaussianDpEvent(c["z"])), c["T"])
    row = {}
    for name, make, n in (("rdp", rdp_privacy_accountant.RdpAccountant, runs), ("pld", pld_privacy_accountant.PLDAccountant, max(3, runs // 2))):
        ts, v = [], None
        for i in range(n + 1):
            t = time.perf_counter()
            v = make().compose(ev).get_epsilon(c["delta"])
            if i > 0: ts.append(time.perf_counter() - t)  # first run is warm-up
        row[name] = {"epsilon": v, "ms": 1000 * statistics.median(ts), "runs": n}
    out.append(row)
print(json.dumps({"rows": out, "python": sys.version.split()[0], "dp_accounting": getattr(dp_accounting, "__version__", "unknown")}))
`;

interface PyRow {
  rdp: { epsilon: number; ms: number; runs: number };
  pld: { epsilon: number; ms: number; runs: number };
}
type PyResult = { rows: PyRow[]; python: string; dp_accounting: string } | { unavailable: string };

function pythonPath(): { path: string[]; how: string } | undefined {
  const probe = (extra: string[]) => spawnSync('python3', ['-c', 'import dp_accounting'], { env: { ...process.env, PYTHONPATH: [...extra, process.env.PYTHONPATH ?? ''].filter(Boolean).join(':') }, encoding: 'utf8' });
  const absl = spawnSync('python3', ['-c', 'import absl.logging'], { encoding: 'utf8' }).status === 0;
  const stub: string[] = [];
  if (!absl) {
    const dir = mkdtempSync(join(tmpdir(), 'fedveil-absl-'));
    mkdirSync(join(dir, 'absl'));
    writeFileSync(join(dir, 'absl', '__init__.py'), '');
    writeFileSync(join(dir, 'absl', 'logging.py'), 'def _noop(*a, **k): pass\ninfo = warning = error = debug = vlog = log_every_n = _noop\n');
    stub.push(dir);
  }
  const candidates: Array<[string[], string]> = [];
  if (process.env.DP_ACCOUNTING_PATH) candidates.push([[resolve(process.env.DP_ACCOUNTING_PATH)], `DP_ACCOUNTING_PATH=${process.env.DP_ACCOUNTING_PATH}`]);
  candidates.push([[], 'installed package']);
  const sibling = resolve('..', 'differential-privacy', 'python', 'dp_accounting');
  if (existsSync(sibling)) candidates.push([[sibling], sibling]);
  for (const [p, how] of candidates) if (probe([...stub, ...p]).status === 0) return { path: [...stub, ...p], how: how + (absl ? '' : ' (absl.logging stubbed)') };
  return undefined;
}

function runDpAccounting(cases: Case[]): PyResult & { how?: string } {
  const found = pythonPath();
  if (!found) return { unavailable: 'python3 cannot import dp_accounting (set DP_ACCOUNTING_PATH to <google/differential-privacy>/python/dp_accounting)' };
  const r = spawnSync('python3', ['-c', PY, JSON.stringify(cases), String(RUNS)], {
    env: { ...process.env, PYTHONPATH: [...found.path, process.env.PYTHONPATH ?? ''].filter(Boolean).join(':') },
    encoding: 'utf8',
    maxBuffer: 1 << 24,
  });
  if (r.status !== 0) return { unavailable: `dp_accounting run failed: ${(r.stderr || String(r.error)).trim().split('\n').at(-1)}` };
  return { ...(JSON.parse(r.stdout) as PyResult), how: found.how };
}

// ---------------------------------------------------------------------------

interface Row {
  case: Case;
  accountant: string;
  epsilon: number;
  medianMs: number;
  runs: number;
  dpAccounting: { epsilon: number; medianMs: number } | null;
}

const rows: Row[] = [];
for (const c of CASES) {
  const event = poissonGaussianRounds(c.z, c.q, c.T);
  const rdp = time(() => {
    const curve = rdpPoissonSubsampledGaussian(c.q, c.z, DEFAULT_RDP_ORDERS);
    for (let i = 0; i < curve.length; i++) curve[i]! *= c.T;
    return rdpToEpsilon(DEFAULT_RDP_ORDERS, curve, c.delta).epsilon;
  }, 3 * RUNS, 3);
  rows.push({ case: c, accountant: 'rdp', epsilon: rdp.value, medianMs: rdp.ms, runs: 3 * RUNS, dpAccounting: null });
  const pld = time(() => computeEpsilon(event, c.delta, 'pld').epsilon, RUNS, 1);
  rows.push({ case: c, accountant: 'pld', epsilon: pld.value, medianMs: pld.ms, runs: RUNS, dpAccounting: null });
  const fine = time(() => new PldAccountant({ valueDiscretizationInterval: 1e-4 }).compose(event).epsilon(c.delta), Math.max(3, RUNS >> 1), 0);
  rows.push({ case: c, accountant: 'pld 1e-4', epsilon: fine.value, medianMs: fine.ms, runs: Math.max(3, RUNS >> 1), dpAccounting: null });
  const gdp = time(() => new GdpAccountant().compose(event).epsilon(c.delta), 3 * RUNS, 3);
  rows.push({ case: c, accountant: 'gdp (approximate)', epsilon: gdp.value, medianMs: gdp.ms, runs: 3 * RUNS, dpAccounting: null });
}

const py = runDpAccounting(CASES);
if ('rows' in py) {
  CASES.forEach((c, i) => {
    const pr = py.rows[i]!;
    for (const r of rows.filter((x) => x.case === c)) {
      if (r.accountant === 'rdp') r.dpAccounting = { epsilon: pr.rdp.epsilon, medianMs: pr.rdp.ms };
      else if (r.accountant.startsWith('pld')) r.dpAccounting = { epsilon: pr.pld.epsilon, medianMs: pr.pld.ms };
    }
  });
}

const info = machine();
if (args.json) {
  process.stdout.write(JSON.stringify({ benchmark: 'accounting', machine: info, dpAccounting: 'rows' in py ? { python: py.python, version: py.dp_accounting, found: py.how } : py, rows }) + '\n');
} else {
  process.stdout.write(`fedveil accounting benchmark (medians; dp_accounting timed inside its own process, same run)\n`);
  process.stdout.write(`${info.cpu} x${info.cores}, Node ${info.node}, ${info.platform}, load ${info.loadAverage1m}\n`);
  process.stdout.write('rows' in py ? `dp_accounting ${py.dp_accounting} on Python ${py.python} (${py.how})\n\n` : `dp_accounting comparison unavailable: ${py.unavailable}\n\n`);
  const head = ['q', 'z', 'T', 'delta', 'accountant', 'epsilon', 'median ms', 'dp_accounting eps', 'rel. diff', 'dp_accounting ms', 'speed-up'];
  const body = rows.map((r) => [
    String(r.case.q), String(r.case.z), String(r.case.T), String(r.case.delta), r.accountant, r.epsilon.toPrecision(8), r.medianMs.toFixed(2),
    r.dpAccounting ? r.dpAccounting.epsilon.toPrecision(8) : '-',
    r.dpAccounting ? (r.epsilon / r.dpAccounting.epsilon - 1).toExponential(2) : '-',
    r.dpAccounting ? r.dpAccounting.medianMs.toFixed(1) : '-',
    r.dpAccounting ? `${(r.dpAccounting.medianMs / r.medianMs).toFixed(1)}x` : '-',
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  for (const line of [head, ...body]) process.stdout.write(line.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd() + '\n');
}
