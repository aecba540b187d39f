/**
 * Benchmarks of the distributed-DP noise layer (docs/distributed-dp.md):
 * exact discrete Gaussian and Skellam samplers at sigma = 10 and 10^4
 * (Skellam with variance sigma^2, i.e. mu = sigma^2 / 2), driven by the
 * platform CSPRNG as in production, and privatizeUpdate / decodeAggregate at
 * d = 10^6. Figures are medians over timed runs after warm-up, in wall time
 * and in process CPU time (the machine may be shared: CPU time is less
 * disturbed by other load). Same-run references: raw CSPRNG word throughput
 * and Math.exp throughput, so ratios survive a noisy machine.
 *
 *   npx tsx bench/noise.ts [--json] [--runs N] [--samples N] [--dim D]
 */
import { cpus, loadavg } from 'node:os';
import { systemRandom, fillRandomUint32 } from '../src/crypto/random.js';
import { sampleDiscreteGaussian, sampleSkellam } from '../src/dp/samplers.js';
import { planDistributedDp } from '../src/dp/plan.js';
import { privatizeUpdate, decodeAggregate } from '../src/dp/pipeline.js';
import { benchArgs, median } from './common.js';

const { json, opt } = benchArgs();
const runs = Math.max(5, opt('--runs', 7));
const samples = opt('--samples', 1_000_000);
const dim = opt('--dim', 1_000_000);


interface Timing { wall: number; cpu: number; minWall: number }
/** Median wall and CPU seconds of `fn` over `n` timed runs after one warm-up. */
function time(fn: () => unknown, n = runs): Timing {
  fn();
  const walls: number[] = [];
  const cpusUsed: number[] = [];
  for (let i = 0; i < n; i++) {
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    fn();
    walls.push(Number(process.hrtime.bigint() - t0) / 1e9);
    const c = process.cpuUsage(c0);
    cpusUsed.push((c.user + c.system) / 1e6);
  }
  return { wall: median(walls), cpu: median(cpusUsed), minWall: Math.min(...walls) };
}

interface Row { name: string; unit: string; perSecondWall: number; perSecondCpu: number; medianMs: number; cpuMs: number; minMs: number }
const rows: Row[] = [];
function record(name: string, unit: string, work: number, t: Timing): Row {
  const row = { name, unit, perSecondWall: work / t.wall, perSecondCpu: work / t.cpu, medianMs: t.wall * 1e3, cpuMs: t.cpu * 1e3, minMs: t.minWall * 1e3 };
  rows.push(row);
  return row;
}

// references
const words = new Uint32Array(1 << 20);
const csprng = record('CSPRNG 32-bit words (reference)', 'words/s', words.length, time(() => fillRandomUint32(words, systemRandom)));
const xs = new Float64Array(1 << 20);
for (let i = 0; i < xs.length; i++) xs[i] = -(i % 1000) / 37;
let sink = 0;
const expRef = record('Math.exp (reference)', 'calls/s', xs.length, time(() => {
  for (let i = 0; i < xs.length; i++) sink += Math.exp(xs[i]!);
}));

// samplers
const samplerRows: Row[] = [];
for (const sigma of [10, 1e4]) {
  samplerRows.push(record(`discrete Gaussian sigma=${sigma}`, 'samples/s', samples, time(() => sampleDiscreteGaussian(sigma, samples))));
  samplerRows.push(record(`Skellam mu=${sigma * sigma / 2} (sigma=${sigma})`, 'samples/s', samples, time(() => sampleSkellam((sigma * sigma) / 2, samples))));
}

// pipeline at d = dim
const pipeline: Record<string, unknown> = {};
for (const mechanism of ['ddg', 'skellam'] as const) {
  const plan = planDistributedDp({ clipNorm: 1, noiseMultiplier: 1, expectedClients: 100, minClients: 50, dim, bits: 20, mechanism });
  const update = new Float32Array(dim);
  for (let i = 0; i < dim; i++) update[i] = Math.sin(i) / Math.sqrt(dim);
  let last: Uint32Array = new Uint32Array(0);
  const privT = time(() => (last = privatizeUpdate(update, plan)), Math.max(5, Math.min(runs, 7)));
  const decT = time(() => decodeAggregate(last, plan, 100), Math.max(5, Math.min(runs, 7)));
  const noiseSampler = plan.localNoise.kind === 'discrete_gaussian' ? plan.localNoise.sigma : Math.sqrt(2 * plan.localNoise.mu);
  record(`privatizeUpdate ${mechanism} d=${dim}`, 'updates/s', 1, privT);
  record(`decodeAggregate ${mechanism} d=${dim}`, 'sums/s', 1, decT);
  pipeline[mechanism] = { scale: plan.scale, localNoiseSd: noiseSampler, paddedDim: plan.paddedDim, privatizeMs: privT.wall * 1e3, privatizeCpuMs: privT.cpu * 1e3, decodeMs: decT.wall * 1e3, decodeCpuMs: decT.cpu * 1e3 };
}

const machine = { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, loadavg: loadavg().map((x) => Number(x.toFixed(2))), node: process.version, platform: `${process.platform}-${process.arch}` };
const ratios = Object.fromEntries(samplerRows.map((r) => [r.name, { cspRngWordsPerSample: csprng.perSecondCpu / r.perSecondCpu, expCallsPerSample: expRef.perSecondCpu / r.perSecondCpu }]));
if (json) {
  console.log(JSON.stringify({ bench: 'noise', machine, runs, samples, dim, rows, pipeline, ratios, sink: sink > 0 }));
} else {
  console.log(`fedveil bench/noise  node ${machine.node}  ${machine.cpu} x${machine.cores}  load ${machine.loadavg.join(' ')}`);
  console.log(`median of ${runs} runs; samplers draw ${samples} samples from the platform CSPRNG\n`);
  const pad = (s: string, n: number) => s.padEnd(n);
  console.log(pad('benchmark', 44) + pad('wall /s', 14) + pad('cpu /s', 14) + pad('median ms', 12) + 'cpu ms');
  for (const r of rows) {
    const f = (x: number) => (x >= 1e6 ? `${(x / 1e6).toFixed(2)}M` : x >= 1e3 ? `${(x / 1e3).toFixed(1)}k` : x.toFixed(2));
    console.log(pad(r.name, 44) + pad(f(r.perSecondWall), 14) + pad(f(r.perSecondCpu), 14) + pad(r.medianMs.toFixed(1), 12) + r.cpuMs.toFixed(1));
  }
  console.log('\ncost per sample in the same run (CPU time): CSPRNG-word equivalents / Math.exp-call equivalents');
  for (const [k, v] of Object.entries(ratios)) console.log(`  ${pad(k, 40)} ${v.cspRngWordsPerSample.toFixed(1)} / ${v.expCallsPerSample.toFixed(1)}`);
  if (sink === 0) console.log('');
}
