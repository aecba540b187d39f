/**
 * Exact samplers: goodness of fit against the exact pmf, moments, independence
 * from how the RNG splits its output, and the exact (BigInt) slow path.
 *
 * Every statistical check uses a fixed deterministicRandom seed, so the suite
 * is deterministic; the thresholds are set so that, for a correct sampler and
 * a fresh seed, each check fails with probability <= 1e-6 (chi-square:
 * upper 1e-6 quantile via Wilson-Hilferty; moments: 5 standard errors or more).
 */
import { describe, expect, test } from '@jest/globals';
import { deterministicRandom, type RandomSource } from '../../src/crypto/random.js';
import {
  WordStream,
  discreteGaussianSampler,
  poissonSampler,
  sampleDiscreteGaussian,
  samplePoisson,
  sampleSkellam,
} from '../../src/dp/samplers.js';
import { decideExact, expInterval, rationalOf } from '../../src/dp/samplers/exact.js';
import { InvalidArgument } from '../../src/errors.js';
import { expectFedveilError } from '../expect-error.js';

const N = 1_000_000;

/** Upper 1e-6 quantile of chi-square with df degrees of freedom (Wilson-Hilferty). */
function chi2Critical(df: number): number {
  const z = 4.7534; // P(Z > z) = 1e-6
  const h = 2 / (9 * df);
  return df * (1 - h + z * Math.sqrt(h)) ** 3;
}

/**
 * Chi-square statistic of integer samples against pmf(k) (any normalisation
 * is fixed here). Bins: single integers with expected count >= 20 in the
 * centre, merged runs elsewhere, and the two tails.
 */
function chiSquare(samples: Int32Array, pmf: (k: number) => number, lo: number, hi: number, width = 1): { stat: number; df: number } {
  let total = 0;
  for (let k = lo; k <= hi; k++) total += pmf(k);
  const n = samples.length;
  const counts = new Map<number, number>();
  for (const x of samples) {
    const b = x < lo ? -Infinity : x > hi ? Infinity : Math.floor((x - lo) / width);
    counts.set(b, (counts.get(b) ?? 0) + 1);
  }
  // expected per width-bin
  const nb = Math.floor((hi - lo) / width) + 1;
  const exp = new Float64Array(nb);
  for (let k = lo; k <= hi; k++) exp[Math.floor((k - lo) / width)]! += (n * pmf(k)) / total;
  // merge adjacent bins until each expected >= 20
  let stat = 0;
  let df = -1;
  let accE = 0;
  let accO = 0;
  for (let b = 0; b < nb; b++) {
    accE += exp[b]!;
    accO += counts.get(b) ?? 0;
    if (accE >= 20) {
      stat += (accO - accE) ** 2 / accE;
      df++;
      accE = 0;
      accO = 0;
    }
  }
  if (accE > 0) {
    stat += (accO - accE) ** 2 / Math.max(accE, 1e-300);
    df++;
  }
  // mass outside [lo, hi] must be (numerically) absent: treat any hit as a failure signal
  const outside = (counts.get(-Infinity) ?? 0) + (counts.get(Infinity) ?? 0);
  expect(outside).toBe(0);
  return { stat, df };
}

function moments(a: Int32Array): { mean: number; variance: number } {
  let s = 0;
  for (const x of a) s += x;
  const mean = s / a.length;
  let v = 0;
  for (const x of a) v += (x - mean) ** 2;
  return { mean, variance: v / a.length };
}

function dgPmf(sigma: number): (k: number) => number {
  return (k) => Math.exp(-(k * k) / (2 * sigma * sigma));
}

function dgVariance(sigma: number): number {
  let z = 0;
  let m2 = 0;
  const K = Math.ceil(40 * sigma + 10);
  for (let k = -K; k <= K; k++) {
    const w = Math.exp(-(k * k) / (2 * sigma * sigma));
    z += w;
    m2 += k * k * w;
  }
  return m2 / z;
}

/** log of the Poisson(mu) pmf at k. */
function poissonLogPmf(mu: number, k: number): number {
  let lf = 0;
  // log k! by Stirling for large k, exact sum for small
  if (k < 50) for (let i = 2; i <= k; i++) lf += Math.log(i);
  else lf = k * Math.log(k) - k + 0.5 * Math.log(2 * Math.PI * k) + 1 / (12 * k) - 1 / (360 * k ** 3);
  return -mu + k * Math.log(mu) - lf;
}

describe('discrete Gaussian', () => {
  for (const [sigma, width] of [[0.5, 1], [2, 1], [10, 1], [1000, 25]] as const) {
    test(`sigma=${sigma}: chi-square against the exact pmf, 10^6 samples`, () => {
      const xs = sampleDiscreteGaussian(sigma, N, deterministicRandom(1000 + Math.round(sigma * 10)));
      const K = Math.ceil(12 * sigma + 8);
      const { stat, df } = chiSquare(xs, dgPmf(sigma), -K, K, width);
      expect(df).toBeGreaterThan(2);
      expect(stat).toBeLessThan(chi2Critical(df));
      const { mean, variance } = moments(xs);
      const v = dgVariance(sigma);
      expect(Math.abs(mean)).toBeLessThan((5.5 * Math.sqrt(v)) / Math.sqrt(N));
      // sd of the sample variance ~ v sqrt(2/N) (kurtosis ~3): 6 sd
      expect(Math.abs(variance / v - 1)).toBeLessThan(6 * Math.sqrt(2 / N));
    });
  }

  test('sigma=10^4: mean and variance over 10^6 samples', () => {
    const sigma = 1e4;
    const { mean, variance } = moments(sampleDiscreteGaussian(sigma, N, deterministicRandom(77)));
    expect(Math.abs(mean)).toBeLessThan((5.5 * sigma) / Math.sqrt(N));
    expect(Math.abs(variance / (sigma * sigma) - 1)).toBeLessThan(6 * Math.sqrt(2 / N));
  });

  test('low bits are uniform at sigma=1000 (no bias from word boundaries)', () => {
    const xs = sampleDiscreteGaussian(1000, N, deterministicRandom(5));
    const mod = new Float64Array(8);
    for (const x of xs) mod[((x % 8) + 8) % 8]! += 1;
    let stat = 0;
    for (const c of mod) stat += (c - N / 8) ** 2 / (N / 8);
    expect(stat).toBeLessThan(chi2Critical(7));
  });

  test('rejects invalid sigma and count', () => {
    expectFedveilError(() => sampleDiscreteGaussian(0, 1), InvalidArgument, 'INVALID_ARGUMENT');
    expectFedveilError(() => sampleDiscreteGaussian(Number.NaN, 1), InvalidArgument, 'INVALID_ARGUMENT');
    expectFedveilError(() => sampleDiscreteGaussian(1, -1), InvalidArgument, 'INVALID_ARGUMENT');
    expectFedveilError(() => sampleDiscreteGaussian(1, 1.5), InvalidArgument, 'INVALID_ARGUMENT');
    expect(sampleDiscreteGaussian(3, 0)).toHaveLength(0);
  });
});

describe('Poisson and Skellam', () => {
  for (const mu of [0.5, 3, 50, 5e4, 5e7]) {
    test(`Poisson(${mu}): chi-square against the exact pmf`, () => {
      const n = 300_000;
      const xs = samplePoisson(mu, n, deterministicRandom(2000 + Math.round(mu * 10)));
      const sd = Math.sqrt(mu);
      const lo = Math.max(0, Math.floor(mu - 10 * sd - 10));
      const hi = Math.ceil(mu + 12 * sd + 20);
      const width = Math.max(1, Math.floor(sd / 20));
      const mode = Math.floor(mu);
      const logMode = poissonLogPmf(mu, mode);
      const { stat, df } = chiSquare(xs, (k) => Math.exp(poissonLogPmf(mu, k) - logMode), lo, hi, width);
      expect(stat).toBeLessThan(chi2Critical(df));
    });
  }

  for (const mu of [0.5, 3, 50]) {
    test(`Skellam(${mu}): chi-square against the exact pmf (Poisson convolution), 10^6 samples`, () => {
      const xs = sampleSkellam(mu, N, deterministicRandom(3000 + Math.round(mu * 10)));
      const K = Math.ceil(mu + 14 * Math.sqrt(mu) + 20);
      const p = new Float64Array(K + 1);
      for (let k = 0; k <= K; k++) p[k] = Math.exp(poissonLogPmf(mu, k));
      const pmf = (j: number): number => {
        let s = 0;
        for (let a = Math.max(0, j); a <= K && a - j <= K; a++) s += p[a]! * p[a - j]!;
        return s;
      };
      const R = Math.ceil(12 * Math.sqrt(2 * mu) + 10);
      const { stat, df } = chiSquare(xs, pmf, -R, R);
      expect(stat).toBeLessThan(chi2Critical(df));
      const { mean, variance } = moments(xs);
      expect(Math.abs(mean)).toBeLessThan((5.5 * Math.sqrt(2 * mu)) / Math.sqrt(N));
      // Skellam kurtosis 3 + 1/(2 mu): sd of sample variance ~ v sqrt((2 + 1/(2mu))/N)
      expect(Math.abs(variance / (2 * mu) - 1)).toBeLessThan(6 * Math.sqrt((2 + 1 / (2 * mu)) / N));
    });
  }

  for (const mu of [5e7]) {
    test(`Skellam(${mu}): mean and variance over 10^6 samples`, () => {
      const { mean, variance } = moments(sampleSkellam(mu, N, deterministicRandom(4000 + Math.round(mu * 10))));
      expect(Math.abs(mean)).toBeLessThan((5.5 * Math.sqrt(2 * mu)) / Math.sqrt(N));
      expect(Math.abs(variance / (2 * mu) - 1)).toBeLessThan(6 * Math.sqrt(2 / N));
    });
  }

  test('rejects invalid mu', () => {
    expectFedveilError(() => sampleSkellam(0, 1), InvalidArgument, 'INVALID_ARGUMENT');
    expectFedveilError(() => sampleSkellam(-1, 1), InvalidArgument, 'INVALID_ARGUMENT');
    expectFedveilError(() => sampleSkellam(Infinity, 1), InvalidArgument, 'INVALID_ARGUMENT');
  });
});

describe('table-free fallbacks (used beyond the table sizes)', () => {
  function draw(sampler: { sample(ws: WordStream): number }, n: number, seed: number): Int32Array {
    const ws = new WordStream(deterministicRandom(seed));
    const out = new Int32Array(n);
    for (let i = 0; i < n; i++) out[i] = sampler.sample(ws);
    return out;
  }

  for (const sigma of [0.5, 3.7, 250]) {
    test(`CKS discrete Gaussian sigma=${sigma}: chi-square`, () => {
      const xs = draw(discreteGaussianSampler(sigma, 'cks'), 200_000, 50 + Math.round(sigma * 10));
      const K = Math.ceil(12 * sigma + 8);
      const { stat, df } = chiSquare(xs, dgPmf(sigma), -K, K, Math.max(1, Math.floor(sigma / 10)));
      expect(stat).toBeLessThan(chi2Critical(df));
    });
  }

  for (const mu of [0.5, 7, 4e4]) {
    test(`Laplace-rejection Poisson(${mu}): chi-square`, () => {
      const xs = draw(poissonSampler(mu, 'laplace'), 200_000, 60 + Math.round(mu * 10));
      const sd = Math.sqrt(mu);
      const lo = Math.max(0, Math.floor(mu - 10 * sd - 10));
      const hi = Math.ceil(mu + 12 * sd + 20);
      const logMode = poissonLogPmf(mu, Math.floor(mu));
      const { stat, df } = chiSquare(xs, (k) => Math.exp(poissonLogPmf(mu, k) - logMode), lo, hi, Math.max(1, Math.floor(sd / 20)));
      expect(stat).toBeLessThan(chi2Critical(df));
    });
  }
});

describe('rare paths, forced (tails beyond the table; exact BigInt acceptance)', () => {
  function draw(sampler: { sample(ws: WordStream): number }, n: number, seed: number): Int32Array {
    const ws = new WordStream(deterministicRandom(seed));
    const out = new Int32Array(n);
    for (let i = 0; i < n; i++) out[i] = sampler.sample(ws);
    return out;
  }

  for (const [sigma, core] of [[3, 4], [300, 350]] as const) {
    test(`discrete Gaussian sigma=${sigma} with a core of +-${core}: tails are exact`, () => {
      const xs = draw(discreteGaussianSampler(sigma, 'auto', { coreHalfWidth: core }), 100_000, 70 + sigma);
      let tail = 0;
      for (const x of xs) if (Math.abs(x) > core + 2 ** Math.max(0, Math.floor(Math.log2(sigma / 64)))) tail++;
      expect(tail).toBeGreaterThan(500); // the tail path really ran
      const K = Math.ceil(12 * sigma + 8);
      const { stat, df } = chiSquare(xs, dgPmf(sigma), -K, K, Math.max(1, Math.floor(sigma / 10)));
      expect(stat).toBeLessThan(chi2Critical(df));
    });
  }

  test('Poisson(20) with a core of +-5: both tails are exact', () => {
    const mu = 20;
    const xs = draw(poissonSampler(mu, 'auto', { coreHalfWidth: 5 }), 60_000, 80);
    let tail = 0;
    for (const x of xs) if (x < 15 || x > 26) tail++;
    expect(tail).toBeGreaterThan(1000);
    const logMode = poissonLogPmf(mu, mu);
    const { stat, df } = chiSquare(xs, (k) => Math.exp(poissonLogPmf(mu, k) - logMode), 0, 120);
    expect(stat).toBeLessThan(chi2Critical(df));
  });

  test('every acceptance decided by BigInt arithmetic gives the same distributions', () => {
    const dg = draw(discreteGaussianSampler(2, 'auto', { exactOnly: true }), 20_000, 90);
    const a = chiSquare(dg, dgPmf(2), -40, 40);
    expect(a.stat).toBeLessThan(chi2Critical(a.df));
    const po = draw(poissonSampler(3, 'auto', { exactOnly: true }), 20_000, 91);
    const logMode = poissonLogPmf(3, 3);
    const b = chiSquare(po, (k) => Math.exp(poissonLogPmf(3, k) - logMode), 0, 60);
    expect(b.stat).toBeLessThan(chi2Critical(b.df));
  });
});

describe('randomness plumbing', () => {
  /** The same byte stream handed out in irregular chunks (1..37 bytes per fill call). */
  function chunked(seed: number): RandomSource {
    const inner = deterministicRandom(seed);
    let turn = 0;
    return {
      fill(bytes: Uint8Array): void {
        let off = 0;
        while (off < bytes.length) {
          const take = Math.min(bytes.length - off, 1 + ((turn++ * 7) % 37));
          inner.fill(bytes.subarray(off, off + take));
          off += take;
        }
      },
    };
  }

  test('output depends only on the byte stream, not on how the source splits it', () => {
    expect(sampleDiscreteGaussian(7.3, 50_000, chunked(9))).toEqual(sampleDiscreteGaussian(7.3, 50_000, deterministicRandom(9)));
    expect(sampleSkellam(123.4, 50_000, chunked(10))).toEqual(sampleSkellam(123.4, 50_000, deterministicRandom(10)));
  });

  test('different seeds give different streams; same seed the same', () => {
    const a = sampleDiscreteGaussian(100, 1000, deterministicRandom(1));
    expect(sampleDiscreteGaussian(100, 1000, deterministicRandom(1))).toEqual(a);
    expect(sampleDiscreteGaussian(100, 1000, deterministicRandom(2))).not.toEqual(a);
  });

  test('WordStream.below is uniform and unbiased for a non power of two', () => {
    const ws = new WordStream(deterministicRandom(3));
    const c = new Float64Array(6);
    for (let i = 0; i < 600_000; i++) c[ws.below(6)]! += 1;
    let stat = 0;
    for (const x of c) stat += (x - 100_000) ** 2 / 100_000;
    expect(stat).toBeLessThan(chi2Critical(5));
  });
});

describe('exact slow path', () => {
  test('rationalOf is the exact value of a double', () => {
    expect(rationalOf(0.1)).toEqual({ num: 3602879701896397n, den: 36028797018963968n });
    expect(rationalOf(-3)).toEqual({ num: -3n, den: 1n });
    expect(rationalOf(2 ** -1074)).toEqual({ num: 1n, den: 1n << 1074n });
  });

  test('expInterval brackets exp at several precisions and signs', () => {
    for (const x of [-1e-6, -0.5, -1, -7.25, -100, 0.5, 3]) {
      for (const P of [64, 200]) {
        const Pe = P + (x < 0 ? Math.ceil(-1.45 * x) : 0);
        const [lo, hi] = expInterval(rationalOf(x), Pe);
        expect(hi > lo).toBe(true);
        expect(hi - lo < 1n << 16n).toBe(true);
        const v = Math.exp(x);
        expect(Number(lo) * 2 ** -Pe).toBeLessThanOrEqual(v * (1 + 1e-15));
        expect(Number(hi) * 2 ** -Pe).toBeGreaterThanOrEqual(v * (1 - 1e-15));
      }
    }
  });

  test('decideExact draws Bernoulli(factor * exp(x)) with the right frequency', () => {
    const ws = new WordStream(deterministicRandom(11));
    const x = rationalOf(-0.7);
    const factor = { num: 3n, den: 4n };
    const p = 0.75 * Math.exp(-0.7);
    let hits = 0;
    const n = 20_000;
    for (let i = 0; i < n; i++) if (decideExact(ws.next(), ws, x, factor)) hits++;
    expect(Math.abs(hits / n - p)).toBeLessThan(5 * Math.sqrt((p * (1 - p)) / n));
  });

  test('decideExact resolves a first word that sits exactly on floor(p * 2^32)', () => {
    // p = exp(-1): the first word equals floor(p 2^32), so only later words decide
    const [lo] = expInterval({ num: -1n, den: 1n }, 96);
    const w = Number(lo >> 64n);
    const ws = new WordStream(deterministicRandom(12));
    let hits = 0;
    const n = 4000;
    for (let i = 0; i < n; i++) if (decideExact(w, ws, { num: -1n, den: 1n }, { num: 1n, den: 1n })) hits++;
    // conditional probability = frac(exp(-1) 2^32)
    const frac = Number((lo >> 32n) & 0xffffffffn) / 2 ** 32;
    expect(Math.abs(hits / n - frac)).toBeLessThan(5 * Math.sqrt((frac * (1 - frac)) / n) + 1e-9);
  });
});
