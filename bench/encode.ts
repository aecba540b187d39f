/**
 * Benchmarks of the encode/ layer at d = 10^6 (docs/encode.md):
 * modular vector sums (elements/s, b = 32 and b = 20), the randomized
 * Hadamard rotation and its inverse (elements/s), stochastic rounding
 * (elements/s), modular wrap / centre, and bit packing at b = 16 and b = 20
 * (MB/s of packed bytes). Each figure is the median over >= 7 timed runs
 * after warm-up; references measured in the same run (memcpy of the same
 * bytes, a textbook radix-2 transform, the portable byte-wise packer, raw
 * CSPRNG throughput) give ratios that survive a noisy shared machine.
 *
 *   npx tsx bench/encode.ts [--json] [--runs N] [--dim D]
 */
import { deterministicRandom, systemRandom, fillRandomUint32 } from '../src/crypto/random.js';
import {
  addModInto, subModInto, rotate, unrotate, fwht, stochasticRound, wrap, centre, packBits, unpackBits, paddedLength,
  clipL2, scale,
} from '../src/encode/index.js';
import { packGeneric } from '../src/encode/pack.js';
import { benchArgs, machine as machineInfo, median } from './common.js';

const { json, opt } = benchArgs();
const runs = Math.max(7, opt('--runs', 9));
const d = opt('--dim', 1_000_000);


/** Median seconds of `fn` over `runs` timed runs after 2 warm-ups. */
function time(fn: () => unknown): { median: number; min: number } {
  for (let i = 0; i < 2; i++) fn();
  const ts: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    fn();
    ts.push(Number(process.hrtime.bigint() - t0) / 1e9);
  }
  return { median: median(ts), min: Math.min(...ts) };
}

/** value: throughput at the median time; best: at the fastest run (least disturbed by other load). */
interface Row { name: string; unit: 'elements/s' | 'MB/s'; value: number; best: number; medianMs: number; minMs: number; note?: string }
const rows: Row[] = [];
function record(name: string, unit: Row['unit'], work: number, t: { median: number; min: number }, note?: string): number {
  const value = work / t.median / (unit === 'MB/s' ? 1e6 : 1);
  const best = work / t.min / (unit === 'MB/s' ? 1e6 : 1);
  rows.push({ name, unit, value, best, medianMs: t.median * 1e3, minMs: t.min * 1e3, ...(note ? { note } : {}) });
  return value;
}

const rng = deterministicRandom(42);
function randomBelowBits(n: number, bits: number): Uint32Array {
  const u = fillRandomUint32(new Uint32Array(n), rng);
  if (bits < 32) for (let i = 0; i < n; i++) u[i] = u[i]! & (2 ** bits - 1);
  return u;
}

// ---- modular sums ----------------------------------------------------------
const ratios: Record<string, number> = {};
{
  const a = randomBelowBits(d, 32);
  const b = randomBelowBits(d, 32);
  const copy = new Uint32Array(d);
  // The floor for any JS loop over these arrays: an element-wise copy.
  const loop = record('reference: JS copy loop c[i] = a[i]', 'elements/s', d, time(() => { for (let i = 0; i < d; i++) copy[i] = a[i]!; }));
  const s32 = record('addModInto b=32', 'elements/s', d, time(() => addModInto(a, b, 32)));
  record('subModInto b=32', 'elements/s', d, time(() => subModInto(a, b, 32)));
  const a20 = randomBelowBits(d, 20);
  const b20 = randomBelowBits(d, 20);
  const s20 = record('addModInto b=20', 'elements/s', d, time(() => addModInto(a20, b20, 20)));
  ratios['addModInto b=32 / JS copy loop'] = s32 / loop;
  ratios['addModInto b=20 / JS copy loop'] = s20 / loop;
}

// ---- rotation ---------------------------------------------------------------
{
  const x = new Float32Array(d);
  const g = fillRandomUint32(new Uint32Array(d), rng);
  for (let i = 0; i < d; i++) x[i] = g[i]! / 2 ** 32 - 0.5;
  const seed = new Uint8Array(32).fill(7);
  const n = paddedLength(d);
  let y = rotate(x, seed);
  const rot = record(`rotate (d=${d}, padded ${n})`, 'elements/s', d, time(() => { y = rotate(x, seed); }));
  record('unrotate', 'elements/s', d, time(() => unrotate(y, seed, d)));
  const w = new Float64Array(n);
  const fast = record(`fwht alone (N=${n})`, 'elements/s', n, time(() => { w.set(y); fwht(w); }));
  const naive = record('reference: textbook radix-2 FWHT', 'elements/s', n, time(() => { w.set(y); naiveFwht(w); }));
  ratios['fwht / textbook radix-2'] = fast / naive;
  ratios['rotate / fwht alone'] = rot / fast;
}

function naiveFwht(x: Float64Array): void {
  const n = x.length;
  for (let h = 1; h < n; h *= 2) {
    for (let i = 0; i < n; i += 2 * h) {
      for (let j = i; j < i + h; j++) {
        const a = x[j]!, b = x[j + h]!;
        x[j] = a + b;
        x[j + h] = a - b;
      }
    }
  }
}

// ---- stochastic rounding ---------------------------------------------------
{
  const x = new Float64Array(d);
  const g = fillRandomUint32(new Uint32Array(d), rng);
  for (let i = 0; i < d; i++) x[i] = (g[i]! / 2 ** 32 - 0.5) * 1000;
  const sys = record('stochasticRound (systemRandom)', 'elements/s', d, time(() => stochasticRound(x)));
  record('stochasticRound (deterministicRandom, ChaCha20)', 'elements/s', d, time(() => stochasticRound(x, deterministicRandom(1))));
  const words = new Uint32Array(d);
  const raw = record('reference: systemRandom 4 bytes/element', 'elements/s', d, time(() => fillRandomUint32(words, systemRandom)));
  ratios['stochasticRound(systemRandom) / raw CSPRNG words'] = sys / raw;
  const ints = stochasticRound(x);
  record('wrap b=20 (Float64Array)', 'elements/s', d, time(() => wrap(ints, 20)));
  const u = wrap(ints, 20);
  record('centre b=20', 'elements/s', d, time(() => centre(u, 20)));
}

// ---- bit packing -------------------------------------------------------------
{
  for (const bits of [8, 16, 20, 32]) {
    const v = randomBelowBits(d, bits);
    const bytes = packBits(v, bits);
    const p = record(`packBits b=${bits}`, 'MB/s', bytes.length, time(() => packBits(v, bits)), 'MB of packed output');
    const q = record(`unpackBits b=${bits}`, 'MB/s', bytes.length, time(() => unpackBits(bytes, bits, d)), 'MB of packed input');
    if (bits === 16 || bits === 20) {
      const into = new Uint32Array(d);
      record(`unpackBits b=${bits} into a reused buffer`, 'MB/s', bytes.length, time(() => unpackBits(bytes, bits, d, into)), 'MB of packed input');
    }
    if (bits === 20) {
      const out = new Uint8Array(bytes.length);
      const ref = record('reference: portable byte-wise packer b=20', 'MB/s', bytes.length, time(() => { out.fill(0); packGeneric(v, 20, out); }));
      ratios['packBits b=20 / byte-wise packer'] = p / ref;
      ratios['unpackBits b=20 / packBits b=20'] = q / p;
    }
  }
}

// ---- whole pipelines (the encoding of docs/encode.md, without the DP noise and masks) --
{
  const update = new Float32Array(d);
  const g = fillRandomUint32(new Uint32Array(d), rng);
  for (let i = 0; i < d; i++) update[i] = (g[i]! / 2 ** 32 - 0.5) * 1e-3;
  const seed = new Uint8Array(32).fill(3);
  const bits = 20;
  const s = 2 ** 9; // scale: rotated coordinates of a norm-1 vector are ~1e-3, so ~0.5 after scaling
  let wire: Uint8Array = new Uint8Array(0);
  const client = () => {
    const { clipped } = clipL2(update, 1);
    wire = packBits(wrap(stochasticRound(scale(rotate(clipped, seed), s)), bits), bits);
  };
  client();
  record(`client encode: clip, rotate, scale, round, wrap, pack (b=${bits})`, 'elements/s', d, time(client));
  const acc = new Uint32Array(paddedLength(d));
  const scratch = new Uint32Array(acc.length);
  const clients = 4;
  record(`server decode: ${clients} x (unpack + addModInto), centre, scale, unrotate`, 'elements/s', d, time(() => {
    acc.fill(0);
    for (let c = 0; c < clients; c++) addModInto(acc, unpackBits(wire, bits, acc.length, scratch), bits);
    unrotate(scale(centre(acc, bits), 1 / (s * clients)), seed, d);
  }));
}

// loadAverage1m: the 1-minute load average when the run ended: above the core
// count, other processes shared the CPU and absolute figures are inflated.
const machine = machineInfo();

if (json) {
  process.stdout.write(JSON.stringify({ bench: 'encode', date: new Date().toISOString(), machine, d, runs, rows, ratios }) + '\n');
} else {
  console.log(`fedveil encode benchmark: d = ${d}, median of ${runs} runs (after 2 warm-ups); best = fastest run`);
  console.log(`machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB; Node ${machine.node} ${machine.platform}; load average ${machine.loadAverage1m}`);
  const fmt = (v: number, unit: string) => (unit === 'MB/s' ? `${v.toFixed(0)} MB/s` : `${(v / 1e6).toFixed(1)} M el/s`);
  const width = Math.max(...rows.map((r) => r.name.length));
  for (const r of rows) {
    console.log(`  ${r.name.padEnd(width)}  ${fmt(r.value, r.unit).padStart(14)} (best ${fmt(r.best, r.unit).padStart(14)})  median ${r.medianMs.toFixed(2).padStart(8)} ms  min ${r.minMs.toFixed(2).padStart(8)} ms`);
  }
  console.log('ratios (same run):');
  for (const [k, v] of Object.entries(ratios)) console.log(`  ${k.padEnd(width)}  ${v.toFixed(2)}`);
}
