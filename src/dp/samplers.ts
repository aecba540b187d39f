/**
 * Exact integer noise samplers driven only by the CSPRNG (invariant I7).
 *
 * - Discrete Gaussian N_Z(0, sigma^2), pmf proportional to exp(-k^2 / (2 sigma^2))
 *   (Canonne, Kamath, Steinke, "The Discrete Gaussian for Differential
 *   Privacy", NeurIPS 2020).
 * - Skellam Sk(mu, mu) = Poisson(mu) - Poisson(mu) (variance 2 mu; Agarwal,
 *   Kairouz, Liu, NeurIPS 2021), with an exact Poisson sampler valid for large
 *   means (tested up to 5e7 = (10^4)^2 / 2).
 *
 * Main algorithm (TableSampler): exact rejection sampling from a proposal whose
 * probabilities are exact integers out of 2^32: a Walker/Vose alias table over
 * blocks of ~sd/64 consecutive values (uniform inside a block), geometric-block
 * proposals for the two tails, and a REJECT outcome. The acceptance probability
 * f(k) / (M q(k)) is "rational * exp(rational)": exp(-k^2/(2 sigma^2)) for the
 * discrete Gaussian, prod(mu / i) (a rational) for the Poisson. About 2-3
 * random words and one Math.exp per sample.
 * Table-free algorithms (fallbacks, and cross-checks in the tests): CKS 2020
 * Algorithms 2-3 (discrete Laplace proposal, Bernoulli(exp(-U/t)),
 * Geometric(exp(-1))) for the discrete Gaussian; for the Poisson, rejection
 * from a discrete Laplace centred at the mode with the exact rational ratio.
 *
 * Exactness. The parameters are IEEE doubles, i.e. exact dyadic rationals:
 * sigma = m * 2^e, so sigma^2 = m^2 * 2^(2e) is an exact rational, and so is mu.
 * No approximation of the target distribution is made: every Bernoulli(p)
 * decision compares a uniform U in [0,1), revealed 32 bits at a time, with p.
 * The fast path knows p only to within a proven interval [lo, hi] computed in
 * doubles; it decides when U's 32-bit prefix interval lies entirely below lo
 * or above hi. Otherwise (probability about 2^-32 per decision) the slow path
 * keeps drawing words of U and evaluates p with BigInt interval arithmetic
 * (exact rational arguments, Taylor series with rigorous truncation bounds)
 * at doubling precision until the comparison is decided. The result is
 * therefore exactly Bernoulli(p), and the samplers are exact.
 *
 * Assumption of the fast path (stated here; Math.exp is spot-checked against
 * BigInt intervals at first use, Math.log is not): the platform's Math.exp
 * and Math.log have relative error below 2^-40. fdlibm-derived
 * implementations (V8, SpiderMonkey, JavaScriptCore) are within 1 ulp
 * (2^-52). The error intervals below add that 2^-40 and a generous bound on
 * the double rounding of each argument. If the assumption failed, only the
 * fast-path decisions within the violated margin could be wrong.
 *
 * Random words are drawn in batches (RandomSource.fill on 64 KiB) and
 * consumed in order, so the output depends only on the byte stream, never on
 * how the source splits it.
 */
import { InvalidArgument } from '../errors.js';
import { systemRandom, type RandomSource } from '../crypto/random.js';
import { INV32, LIBM_ERR, TWO32, U, WordStream, decideExact, expInterval, rAdd, rInt, rMul, rationalOf, reduce, type Rational } from './samplers/exact.js';

export { WordStream } from './samplers/exact.js';

// ---------------------------------------------------------------------------
// Fast-path Bernoulli decisions

/**
 * Fast decision of U < p for p known to lie in [pLo, pHi] (doubles):
 * 1 = true, 0 = false, -1 = undecided (caller goes to the slow path).
 */
function fastDecide(w: number, pLo: number, pHi: number): number {
  if ((w + 1) * INV32 <= pLo) return 1;
  if (w * INV32 >= pHi) return 0;
  return -1;
}

/**
 * Fast decision of U < exp(-g) given |g - gHat| <= gErr (gErr small): the
 * interval is exp(-gHat) * (1 +- rel), rel covering libm and the argument error.
 */
function fastDecideExp(w: number, gHat: number, gErr: number): number {
  const p = Math.exp(-gHat);
  const rel = LIBM_ERR + 1.01 * gErr + U;
  return fastDecide(w, p * (1 - rel), p * (1 + rel) + 1e-300);
}

/** floor(exp(-1) * 2^32), computed with BigInt intervals at load and checked to be exact. */
const EXP_M1_WORD = ((): number => {
  const [lo, hi] = expInterval({ num: -1n, den: 1n }, 96);
  const floor = lo >> 64n;
  if (hi >> 64n !== floor) throw new Error('samplers: could not pin floor(exp(-1) * 2^32)');
  return Number(floor);
})();
const EXP_M1: Rational = { num: -1n, den: 1n };

/** Bernoulli(exp(-1)), exact. */
function bernoulliExpM1(ws: WordStream): boolean {
  const w = ws.next();
  if (w < EXP_M1_WORD) return true;
  if (w > EXP_M1_WORD) return false;
  return decideExact(w, ws, EXP_M1, rInt(1));
}

let libmChecked = false;
/** One-time check of the libm accuracy assumption against BigInt intervals. */
function checkLibm(): void {
  if (libmChecked) return;
  for (const x of [-1e-9, -0.3, -1, -2.5, -17.25, -60, -300.5, 0.75]) {
    const P = 80 + Math.ceil(1.45 * Math.abs(x));
    const [lo, hi] = expInterval(rationalOf(x), P);
    const ref = Number(lo) * 2 ** -P;
    const refHi = Number(hi) * 2 ** -P;
    const got = Math.exp(x);
    if (!(Math.abs(got - ref) <= LIBM_ERR * ref + (refHi - ref))) {
      throw new InvalidArgument(`samplers: Math.exp(${x}) is not accurate to 2^-40 on this platform; exact sampling refuses to run`);
    }
  }
  libmChecked = true;
}

// ---------------------------------------------------------------------------
// Table-driven exact rejection sampler (the fast path for both distributions)

/**
 * Description of a unimodal target f on the integers (unnormalised), for
 * {@link TableSampler}. The core [lo, hi] is covered by blocks of 2^blockLog2
 * values; beyond it f is bounded by a geometric envelope
 * f(k) <= f(edge) * exp(-rate(edge) * |k - edge|).
 */
interface TableTarget {
  readonly lo: number;
  readonly hi: number;
  readonly mode: number;
  readonly blockLog2: number;
  /** log f(k) in doubles, with a proven absolute error bound. */
  logf(k: number): number;
  logfErr(k: number): number;
  /** f(k) = factor * exp(x) exactly (slow path only). */
  exact(k: number): { x: Rational; factor: Rational };
  /** Lower bounds on the geometric decay rate beyond an upper / below a lower edge (undefined: no mass). */
  rightRate(edge: number): number | undefined;
  leftRate(edge: number): number | undefined;
  /** Hot-loop shortcuts (same values as logf / logfErr, without a call): */
  /** log f(k) = -k^2 * quadratic, error <= 4U * |log f| */
  readonly quadratic?: number;
  /** log f(k) = logTable[k - lo], error <= logTableErr */
  readonly logTable?: Float64Array;
  readonly logTableErr?: number;
  /** Test hook: decide every acceptance on the exact (BigInt) path. */
  readonly exactOnly?: boolean;
}

/**
 * Exact rejection sampling from a proposal q whose probabilities are exact
 * integers out of 2^32: an alias table (Walker/Vose) over core blocks (each
 * then uniform over its 2^e values), two tail outcomes and a REJECT outcome
 * holding the leftover units. A tail outcome draws k = edge +- (1 + B Lb + V)
 * with B ~ Geometric(1/2) (leading zero bits) and V uniform in [0, Lb), so
 * q(k) = (cnt / 2^32) 2^-(B+1) / Lb exactly; Lb * rate >= ln 2 makes the
 * geometric envelope fall by at least 2^-B per block. With M >= sup f / q
 * (enforced with the proven error margins), accepting k with probability
 * f(k) / (M q(k)) yields exactly f / sum f. Words per proposal: one for the
 * alias column and threshold, one for the offset in the block (blocks > 1),
 * one for acceptance; the acceptance rate is about 0.97 or more.
 */
class TableSampler {
  private readonly shift: number;
  private readonly lowMask: number;
  private readonly thr: Uint32Array;
  private readonly prim: Int32Array;
  private readonly alias: Int32Array;
  /** Per-value acceptance bounds when blocks have width 1. */
  private readonly accLo: Float64Array | undefined;
  private readonly accHi: Float64Array | undefined;
  /** Per-block 2^32 * w / (M * count) in doubles (exact factor recomputed in BigInt on the slow path). */
  private readonly blockScale: Float64Array;
  private readonly counts: Float64Array;
  private readonly lo: number;
  private readonly e: number;
  private readonly nBlocks: number;
  private readonly M: number;
  private readonly maxLogR: number;
  private readonly tail: { readonly cnt: number; readonly Lb: number; readonly edge: number }[] = [];
  private readonly target: TableTarget;
  // hot-loop copies (read once per sample, so no pow / optional chaining there)
  private readonly bw: number;
  private readonly es: number;
  private readonly absMaxLogR: number;
  private readonly quadratic: number | undefined;
  private readonly logTable: Float64Array | undefined;
  private readonly logTableErr: number;
  private readonly exactOnly: boolean;

  constructor(target: TableTarget) {
    this.target = target;
    const e = target.blockLog2;
    const w = 2 ** e;
    this.e = e;
    const lo = target.lo;
    this.lo = lo;
    const nb = Math.ceil((target.hi - lo + 1) / w);
    this.nBlocks = nb;
    const hi = lo + nb * w - 1;
    const maxLogR = target.logf(target.mode);
    this.maxLogR = maxLogR;
    this.bw = w;
    this.es = 32 - e;
    this.absMaxLogR = Math.abs(maxLogR);
    this.quadratic = target.quadratic;
    this.logTable = target.logTable;
    this.logTableErr = target.logTableErr ?? Infinity;
    this.exactOnly = target.exactOnly === true;
    const fBound = (k: number): number => {
      const lf = target.logf(k);
      const err = target.logfErr(k) + 4 * U * (Math.abs(lf) + Math.abs(maxLogR));
      return Math.exp(lf - maxLogR + err) * (1 + LIBM_ERR);
    };
    // block upper bounds: f is unimodal, so its block maximum is at the point nearest the mode
    const fBlock = new Float64Array(nb);
    let zCore = 0;
    for (let i = 0; i < nb; i++) {
      const a = lo + i * w;
      const peak = Math.min(Math.max(target.mode, a), a + w - 1);
      fBlock[i] = fBound(peak);
      zCore += w * fBlock[i]!;
    }
    const tails: { F: number; Lb: number; edge: number; side: number }[] = [];
    for (const [rate, edge, side] of [[target.rightRate(hi), hi, 1], [target.leftRate(lo), lo, -1]] as const) {
      if (rate === undefined) continue;
      const r = rate * (1 - 1e-9);
      tails.push({ F: fBound(edge), Lb: Math.ceil(Math.LN2 / r) + 1, edge, side });
    }
    let zTail = 0;
    for (const t of tails) zTail += 2 * t.Lb * t.F;
    const units = TWO32;
    // M (relative to exp(maxLogR)) so that the ceil'ed counts fit in 2^32 units
    const M = ((zCore + zTail) * (1 + 2 ** -30) * units) / (units - (nb + 64) - 2 ** 21);
    this.M = M;
    const counts = new Float64Array(nb + 3); // blocks..., right tail, left tail, REJECT
    let used = 0;
    for (let i = 0; i < nb; i++) {
      counts[i] = Math.max(1, Math.ceil((w * fBlock[i]! * units) / M));
      used += counts[i]!;
    }
    for (const t of tails) {
      const cnt = Math.ceil((2 * units * t.Lb * t.F * (1 + 1e-6)) / M) + 1;
      counts[t.side === 1 ? nb : nb + 1] = cnt;
      used += cnt;
      this.tail[t.side === 1 ? 0 : 1] = { cnt, Lb: t.Lb, edge: t.edge };
    }
    if (used > units) throw new Error('TableSampler: proposal does not fit in 2^32 units');
    counts[nb + 2] = units - used;
    this.counts = counts;
    this.blockScale = new Float64Array(nb);
    for (let i = 0; i < nb; i++) this.blockScale[i] = (units * w) / (M * counts[i]!);
    if (w === 1) {
      this.accLo = new Float64Array(nb);
      this.accHi = new Float64Array(nb);
      for (let i = 0; i < nb; i++) {
        const lf = target.logf(lo + i);
        const err = target.logfErr(lo + i) + 4 * U * (Math.abs(lf) + Math.abs(maxLogR));
        const p = Math.exp(lf - maxLogR) * this.blockScale[i]!;
        const rel = LIBM_ERR + 1.01 * err + 8 * U;
        this.accLo[i] = p * (1 - rel);
        this.accHi[i] = p * (1 + rel);
      }
    }
    // Vose alias table over 2^m columns of 2^(32-m) units each; entries are outcome indices
    const outcomes = nb + 3;
    let m = 1;
    while (2 ** m < outcomes) m++;
    const cols = 2 ** m;
    const cap = units / cols;
    this.shift = 32 - m;
    this.lowMask = cap - 1;
    this.thr = new Uint32Array(cols);
    this.prim = new Int32Array(cols);
    this.alias = new Int32Array(cols);
    const REJECT = nb + 2;
    const rem = new Float64Array(cols);
    for (let c = 0; c < cols; c++) rem[c] = c < outcomes ? counts[c]! : 0;
    const small: number[] = [];
    const large: number[] = [];
    for (let c = 0; c < cols; c++) (rem[c]! < cap ? small : large).push(c);
    while (small.length > 0 && large.length > 0) {
      const sc = small.pop()!;
      const lc = large[large.length - 1]!;
      // column sc keeps rem[sc] units of its own outcome; the rest goes to lc's outcome
      this.thr[sc] = rem[sc]!;
      this.prim[sc] = sc < outcomes ? sc : REJECT;
      this.alias[sc] = lc;
      rem[lc] = rem[lc]! - (cap - rem[sc]!);
      if (rem[lc]! < cap) {
        large.pop();
        small.push(lc);
      }
    }
    for (const c of large.concat(small)) {
      // the remaining columns are exactly full (integer arithmetic in doubles)
      if (rem[c] !== cap) throw new Error('TableSampler: alias construction lost units');
      this.thr[c] = cap;
      this.prim[c] = c < outcomes ? c : REJECT;
      this.alias[c] = this.prim[c]!;
    }
    // the proposal must be exactly the counts: verify every outcome's units
    const got = new Float64Array(outcomes);
    for (let c = 0; c < cols; c++) {
      got[this.prim[c]!]! += this.thr[c]!;
      got[this.alias[c]!]! += cap - this.thr[c]!;
    }
    for (let o = 0; o < outcomes; o++) {
      if (got[o] !== counts[o]) throw new Error('TableSampler: alias masses differ from counts');
    }
  }

  sample(ws: WordStream): number {
    const lo = this.lo;
    const nb = this.nBlocks;
    const accLo = this.accLo;
    const accHi = this.accHi;
    const quadratic = this.quadratic;
    const logTable = this.logTable;
    const logTableErr = this.logTableErr;
    const bw = this.bw;
    const es = this.es;
    const maxLogR = this.maxLogR;
    const absMaxLogR = this.absMaxLogR;
    const blockScale = this.blockScale;
    for (;;) {
      const w = ws.next();
      const col = w >>> this.shift;
      const i = (w & this.lowMask) < this.thr[col]! ? this.prim[col]! : this.alias[col]!;
      if (i >= nb) {
        if (i === nb + 2) continue; // REJECT
        const r = this.sampleTail(ws, i === nb ? 0 : 1);
        if (r !== undefined) return r;
        continue;
      }
      let k: number;
      let w2: number;
      if (this.exactOnly) {
        k = lo + i * bw + (bw === 1 ? 0 : ws.next() >>> es);
        w2 = ws.next();
      } else if (accLo !== undefined && accHi !== undefined) {
        k = lo + i;
        w2 = ws.next();
        if ((w2 + 1) * INV32 <= accLo[i]!) return k;
        if (w2 * INV32 >= accHi[i]!) continue;
      } else {
        k = lo + i * bw + (ws.next() >>> es);
        w2 = ws.next();
        let lf: number;
        let err: number;
        if (quadratic !== undefined) {
          lf = -(k * k) * quadratic;
          err = 8 * U * -lf;
        } else if (logTable !== undefined) {
          lf = logTable[k - lo]!;
          err = logTableErr;
        } else {
          lf = this.target.logf(k);
          err = this.target.logfErr(k);
        }
        err += 4 * U * (Math.abs(lf) + absMaxLogR);
        const p = Math.exp(lf - maxLogR) * blockScale[i]!;
        const rel = LIBM_ERR + 1.01 * err + 8 * U;
        if ((w2 + 1) * INV32 <= p * (1 - rel)) return k;
        if (w2 * INV32 >= p * (1 + rel)) continue;
      }
      if (this.acceptExact(w2, ws, k, i)) return k;
    }
  }

  /** Slow path: p = f(k) 2^32 w / (M exp(maxLogR) count_i), decided exactly. */
  private acceptExact(w2: number, ws: WordStream, k: number, i: number): boolean {
    const Mr = rationalOf(this.M);
    const { x, factor } = this.target.exact(k);
    const xx = rAdd(x, rationalOf(-this.maxLogR));
    const ff = rMul(factor, { num: BigInt(TWO32) * (1n << BigInt(this.e)) * Mr.den, den: Mr.num * BigInt(this.counts[i]!) });
    return decideExact(w2, ws, xx, ff);
  }

  /** A tail proposal and its (always exact) acceptance; undefined = rejected. */
  private sampleTail(ws: WordStream, side: 0 | 1): number | undefined {
    const t = this.tail[side]!;
    let B = 0;
    for (;;) {
      const w = ws.next();
      if (w !== 0) {
        B += Math.clz32(w);
        break;
      }
      B += 32;
    }
    const V = ws.below(t.Lb);
    const off = 1 + B * t.Lb + V;
    const k = side === 0 ? t.edge + off : t.edge - off;
    if (Math.abs(k) > 2 ** 31 - 1) return undefined; // beyond Int32 output; f there is below 2^-(2^20): reject
    // p = f(k) / (M exp(maxLogR) q(k)), q(k) = (cnt / 2^32) 2^-(B+1) / Lb
    const Mr = rationalOf(this.M);
    const { x, factor } = this.target.exact(k);
    const xx = rAdd(x, rationalOf(-this.maxLogR));
    const qInv: Rational = { num: BigInt(TWO32) * (1n << BigInt(B + 1)) * BigInt(t.Lb) * Mr.den, den: BigInt(t.cnt) * Mr.num };
    return decideExact(ws.next(), ws, xx, rMul(factor, qInv)) ? k : undefined;
  }
}

/**
 * Largest per-value table (entries) built: it bounds the Poisson log-pmf table
 * (mu up to ~10^10); beyond it Poisson uses the Laplace-rejection sampler. The
 * discrete Gaussian needs no per-value table (~1100 blocks for any sigma).
 */
const MAX_TABLE = 1 << 21;
/** Core half-width in standard deviations: tail mass beyond it is < 2^-32 / sd. */
function coreHalfWidth(sd: number): number {
  return Math.ceil(sd * Math.sqrt(2 * (32 * Math.LN2 + Math.log(sd + 1) + 4)));
}

const tableCache = new Map<string, TableSampler>();
function cachedTable(key: string, build: () => TableSampler): TableSampler {
  let t = tableCache.get(key);
  if (t === undefined) {
    t = build();
    if (tableCache.size >= 8) tableCache.delete(tableCache.keys().next().value!);
    tableCache.set(key, t);
  }
  return t;
}

/** Block width exponent: blocks of about sd/64 values keep the acceptance near 0.97 and tables small. */
function blockLog2(sd: number): number {
  return Math.max(0, Math.floor(Math.log2(sd / 64)));
}

/**
 * Test hooks (never needed in production): `coreHalfWidth` narrows the
 * tabulated core so that the tail proposals run often; `exactOnly` skips the
 * double-precision decisions so that every acceptance goes through BigInt.
 */
export interface SamplerTestOptions {
  readonly coreHalfWidth?: number;
  readonly exactOnly?: boolean;
}

function dgTable(sigma: number, opts: SamplerTestOptions = {}): TableSampler | undefined {
  const K = opts.coreHalfWidth ?? coreHalfWidth(sigma) + 2;
  const e = blockLog2(sigma);
  if ((2 * K + 1) / 2 ** e > MAX_TABLE) return undefined;
  return cachedTable(`dg:${sigma}:${K}:${opts.exactOnly === true}`, () => {
    const s2 = sigma * sigma;
    const s2R = rMul(rationalOf(sigma), rationalOf(sigma));
    const rate = (edge: number): number => (2 * Math.abs(edge) + 1) / (2 * s2);
    return new TableSampler({
      lo: -K,
      hi: K,
      mode: 0,
      blockLog2: e,
      logf: (k) => -(k * k) / (2 * s2),
      // k*k exact (< 2^53); s2 and the division round once each
      logfErr: (k) => (4 * U * k * k) / (2 * s2),
      // -(k*k) * (1/(2 s2)): one more rounding, covered by the 8U of the hot loop
      quadratic: 1 / (2 * s2),
      exact: (k) => ({ x: reduce(-BigInt(k) * BigInt(k) * s2R.den, 2n * s2R.num), factor: rInt(1) }),
      // beyond an edge E: k^2 - E^2 >= |k - E| (2|E| + 1)
      rightRate: rate,
      leftRate: rate,
      exactOnly: opts.exactOnly === true,
    });
  });
}

function poissonTable(mu: number, opts: SamplerTestOptions = {}): TableSampler | undefined {
  const sd = Math.sqrt(mu);
  const m = Math.floor(mu);
  // the right tail of the Poisson is a little heavier than the Gaussian's: widen by 25%
  const K = opts.coreHalfWidth ?? Math.ceil(1.25 * coreHalfWidth(sd)) + 20;
  const lo = Math.max(0, m - K);
  const e = blockLog2(sd);
  const hi = m + K + 2 ** e; // room for the last block
  if (hi - lo + 1 > MAX_TABLE) return undefined;
  return cachedTable(`poisson:${mu}:${K}:${opts.exactOnly === true}`, () => {
    const muR = rationalOf(mu);
    // L(k) = log f(k) - log f(m) by cumulative sums of log(mu / i) (right) and log(i / mu) (left),
    // each term with libm error <= LIBM_ERR |term| plus one rounding of its argument, each sum one rounding
    const L = new Float64Array(hi - lo + 1);
    const E = new Float64Array(hi - lo + 1);
    let acc = 0;
    let err = 0;
    for (let k = m + 1; k <= hi; k++) {
      const term = Math.log(mu / k);
      acc += term;
      err += LIBM_ERR * Math.abs(term) + U * (1 + Math.abs(acc));
      L[k - lo] = acc;
      E[k - lo] = err;
    }
    acc = 0;
    err = 0;
    for (let k = m - 1; k >= lo; k--) {
      const term = Math.log((k + 1) / mu);
      acc += term;
      err += LIBM_ERR * Math.abs(term) + U * (1 + Math.abs(acc));
      L[k - lo] = acc;
      E[k - lo] = err;
    }
    return new TableSampler({
      lo,
      hi: m + K,
      mode: m,
      blockLog2: e,
      logf: (k) => L[k - lo]!,
      logfErr: (k) => E[k - lo]!,
      logTable: L,
      logTableErr: E.reduce((a, b) => Math.max(a, b), 0),
      exact: (k) => ({ x: rInt(0), factor: poissonRatio(muR, m, k - m) }),
      // f(k+1)/f(k) = mu/(k+1) <= mu/(edge+1) beyond edge; f(k-1)/f(k) = k/mu <= edge/mu below edge
      rightRate: (edge) => Math.log((edge + 1) / mu),
      leftRate: (edge) => (edge > 0 ? Math.log(mu / edge) : undefined),
      exactOnly: opts.exactOnly === true,
    });
  });
}

// ---------------------------------------------------------------------------
// Discrete Laplace (CKS Algorithm 2 with s = 1) and discrete Gaussian (Algorithm 3)

/** Per-scale table of exp(-u/t) for the Bernoulli(exp(-U/t)) step (t <= 2^16). */
interface LaplaceTable {
  readonly t: number;
  readonly expTable: Float64Array | undefined;
}

function laplaceTable(t: number): LaplaceTable {
  if (t > 65536) return { t, expTable: undefined };
  const tab = new Float64Array(t);
  for (let u = 0; u < t; u++) tab[u] = Math.exp(-u / t);
  return { t, expTable: tab };
}

/** Discrete Laplace with pmf proportional to exp(-|x| / t), t a positive integer. */
function sampleDiscreteLaplace(ws: WordStream, lt: LaplaceTable): number {
  const t = lt.t;
  const tab = lt.expTable;
  for (;;) {
    const u = ws.below(t);
    // Bernoulli(exp(-u/t)): argument u/t has one rounding (relative 2^-53)
    const w = ws.next();
    const p = tab !== undefined ? tab[u]! : Math.exp(-u / t);
    const rel = LIBM_ERR + U;
    let d = fastDecide(w, p * (1 - rel), p * (1 + rel));
    if (d < 0) d = decideExact(w, ws, { num: -BigInt(u), den: BigInt(t) }, rInt(1)) ? 1 : 0;
    if (d === 0) continue;
    let v = 0;
    while (bernoulliExpM1(ws)) v++;
    const x = u + t * v;
    const negative = ws.next() & 1;
    if (negative && x === 0) continue;
    return negative ? -x : x;
  }
}

function validateCount(count: unknown): asserts count is number {
  if (typeof count !== 'number' || !Number.isSafeInteger(count) || count < 0 || count > 2 ** 31) {
    throw new InvalidArgument(`count: expected an integer in [0, 2^31], got ${String(count)}`);
  }
}

/** State for repeated discrete Gaussian draws at one sigma. */
export class DiscreteGaussianSampler {
  readonly sigma: number;
  private readonly t: number;
  private readonly sigma2: number;
  private readonly sigma2OverT: number;
  private readonly lt: LaplaceTable;
  private readonly sigma2R: Rational;
  constructor(sigma: number) {
    if (typeof sigma !== 'number' || !Number.isFinite(sigma) || !(sigma > 0) || sigma > 2 ** 24) {
      throw new InvalidArgument(`sigma: expected a finite number in (0, 2^24], got ${String(sigma)}`);
    }
    checkLibm();
    this.sigma = sigma;
    this.t = Math.floor(sigma) + 1;
    this.sigma2 = sigma * sigma;
    this.sigma2OverT = this.sigma2 / this.t;
    this.lt = laplaceTable(this.t);
    const s = rationalOf(sigma);
    this.sigma2R = rMul(s, s); // exact: sigma is a dyadic rational
  }

  /** One exact draw. */
  sample(ws: WordStream): number {
    const t = this.t;
    for (;;) {
      const y = sampleDiscreteLaplace(ws, this.lt);
      const ay = y < 0 ? -y : y;
      // accept with probability exp(-(|y| - sigma^2/t)^2 / (2 sigma^2))
      const diff = ay - this.sigma2OverT;
      const g = (diff * diff) / (2 * this.sigma2);
      // rounding: sigma2 (1u), sigma2/t (2u), diff (abs <= 3u(sigma^2/t + |diff|)), square/divide (3u):
      // |g - gHat| <= 3u|diff|/t + 9u g  (+ slack), u = 2^-53 < U
      const gErr = 8 * U * (Math.abs(diff) / t + g + 1);
      const w = ws.next();
      let d = fastDecideExp(w, g, gErr);
      if (d < 0) {
        // exact: g = (|y| t - sigma^2)^2 / (2 sigma^2 t^2)
        const s2 = this.sigma2R;
        const num = BigInt(ay) * BigInt(t) * s2.den - s2.num;
        const x: Rational = reduce(-(num * num), 2n * s2.num * s2.den * BigInt(t) * BigInt(t));
        d = decideExact(w, ws, x, rInt(1)) ? 1 : 0;
      }
      if (d === 1) return y;
    }
  }
}

/** Something that draws one sample from a WordStream. */
export interface IntegerSampler {
  sample(ws: WordStream): number;
}

/**
 * The exact discrete Gaussian sampler for sigma: the table-driven one when its
 * core table fits (sigma up to ~1.2e5), else CKS Algorithm 3 (table-free).
 */
export function discreteGaussianSampler(sigma: number, algorithm: 'auto' | 'cks' = 'auto', testOptions?: SamplerTestOptions): IntegerSampler {
  if (typeof sigma !== 'number' || !Number.isFinite(sigma) || !(sigma > 0) || sigma > 2 ** 24) {
    throw new InvalidArgument(`sigma: expected a finite number in (0, 2^24], got ${String(sigma)}`);
  }
  checkLibm();
  return (algorithm === 'auto' ? dgTable(sigma, testOptions) : undefined) ?? new DiscreteGaussianSampler(sigma);
}

/** The exact Poisson sampler for mu: table-driven when it fits, else Laplace rejection. */
export function poissonSampler(mu: number, algorithm: 'auto' | 'laplace' = 'auto', testOptions?: SamplerTestOptions): IntegerSampler {
  if (typeof mu !== 'number' || !Number.isFinite(mu) || !(mu > 0) || mu > 2 ** 34) {
    throw new InvalidArgument(`mu: expected a finite number in (0, 2^34], got ${String(mu)}`);
  }
  checkLibm();
  return (algorithm === 'auto' ? poissonTable(mu, testOptions) : undefined) ?? new PoissonSampler(mu);
}

/**
 * `count` independent exact draws from the discrete Gaussian N_Z(0, sigma^2)
 * (pmf proportional to exp(-k^2 / (2 sigma^2)) on the integers), from the CSPRNG
 * unless a RandomSource is given (tests).
 */
export function sampleDiscreteGaussian(sigma: number, count: number, rng: RandomSource = systemRandom): Int32Array {
  validateCount(count);
  const sampler = discreteGaussianSampler(sigma);
  const ws = new WordStream(rng);
  const out = new Int32Array(count);
  for (let i = 0; i < count; i++) out[i] = sampler.sample(ws);
  return out;
}

// ---------------------------------------------------------------------------
// Poisson and Skellam

/**
 * Exact Poisson(mu) by rejection from a discrete Laplace (scale t) centred at
 * the mode m = floor(mu). With L(j) = log f(m+j) - log f(m) (concave in j) the
 * envelope is exp(c - |j|/t) where c >= max_j (L(j) + |j|/t); the acceptance
 * probability exp(L(j) + |j|/t - c) = R(j) * exp(|j|/t - c) with R(j) the
 * exact rational f(m+j)/f(m) = prod (mu / i) (j > 0) or prod (i / mu) (j < 0).
 */
export class PoissonSampler {
  readonly mu: number;
  private readonly m: number;
  private readonly t: number;
  private readonly lt: LaplaceTable;
  /** L(j) for j in [-jLeft, jRight]; index j + jLeft. */
  private readonly logRatio: Float64Array;
  /** Proven absolute error bound of each logRatio entry. */
  private readonly logRatioErr: Float64Array;
  private readonly jLeft: number;
  private readonly jRight: number;
  /** Envelope constant (an exact double used identically in both paths). */
  private readonly c: number;
  private readonly muR: Rational;
  constructor(mu: number) {
    if (typeof mu !== 'number' || !Number.isFinite(mu) || !(mu > 0) || mu > 2 ** 34) {
      throw new InvalidArgument(`mu: expected a finite number in (0, 2^34], got ${String(mu)}`);
    }
    checkLibm();
    this.mu = mu;
    this.muR = rationalOf(mu);
    const m = Math.floor(mu);
    this.m = m;
    const sd = Math.sqrt(mu);
    this.t = Math.max(1, Math.ceil(sd));
    this.lt = laplaceTable(this.t);
    // Table half-widths: 16 sd + 64 (the Poisson mass beyond is < e^-100);
    // on the left the table stops at k = 0. Beyond the table L is bounded by
    // concavity (chord through the last two entries), used to reject only.
    const jRight = Math.ceil(16 * sd + 64);
    const jLeft = Math.min(m, jRight);
    this.jLeft = jLeft;
    this.jRight = jRight;
    const L = new Float64Array(jLeft + jRight + 1);
    const E = new Float64Array(jLeft + jRight + 1);
    // Each term log(ratio): argument rounded once (abs error <= 2^-52 after log),
    // libm error <= LIBM_ERR * |term|; each addition rounds by <= 2^-53 |sum|.
    let acc = 0;
    let err = 0;
    for (let j = 1; j <= jRight; j++) {
      const term = Math.log(mu / (m + j));
      acc += term;
      err += LIBM_ERR * Math.abs(term) + U * (1 + Math.abs(acc));
      L[jLeft + j] = acc;
      E[jLeft + j] = err;
    }
    acc = 0;
    err = 0;
    for (let j = 1; j <= jLeft; j++) {
      const term = Math.log((m - j + 1) / mu);
      acc += term;
      err += LIBM_ERR * Math.abs(term) + U * (1 + Math.abs(acc));
      L[jLeft - j] = acc;
      E[jLeft - j] = err;
    }
    this.logRatio = L;
    this.logRatioErr = E;
    // c >= max over all j of the true L(j) + |j|/t: each side is concave with
    // its maximum inside the table, so the table maximum plus its error bound
    // (plus slack for the rounding of |j|/t) is an upper bound.
    let best = -Infinity;
    for (let j = -jLeft; j <= jRight; j++) {
      const v = L[j + jLeft]! + E[j + jLeft]! + Math.abs(j) / this.t;
      if (v > best) best = v;
    }
    this.c = best + 1e-9;
  }

  /** One exact draw. */
  sample(ws: WordStream): number {
    const t = this.t;
    const jLeft = this.jLeft;
    for (;;) {
      const j = sampleDiscreteLaplace(ws, this.lt);
      const k = this.m + j;
      if (k < 0) continue; // Poisson mass is zero there: reject
      const aj = j < 0 ? -j : j;
      const w = ws.next();
      let d: number;
      if (j >= -jLeft && j <= this.jRight) {
        const Lj = this.logRatio[j + jLeft]!;
        const g = this.c - Lj - aj / t; // >= 0: p <= 1
        const gErr = this.logRatioErr[j + jLeft]! + 4 * U * (Math.abs(this.c) + Math.abs(Lj) + aj / t);
        d = fastDecideExp(w, g, gErr);
      } else {
        // Outside the table: by concavity L(j) <= L(J) + (|j| - J) * (L(J) - L(J-1))
        // on the same side (J = last entry); an upper bound on p, used to reject only.
        const side = j > 0 ? 1 : -1;
        const J = j > 0 ? this.jRight : jLeft;
        const LJ = this.logRatio[side * J + jLeft]!;
        const LJ1 = this.logRatio[side * (J - 1) + jLeft]!;
        const eJ = this.logRatioErr[side * J + jLeft]! + this.logRatioErr[side * (J - 1) + jLeft]!;
        const slope = LJ - LJ1 + eJ;
        const upper = LJ + eJ + (aj - J) * slope + aj / t - this.c;
        const hi = Math.exp(upper + Math.abs(upper) * 2 ** -38 + 1e-6) + 1e-300;
        d = w * INV32 >= hi ? 0 : -1;
      }
      if (d < 0) d = decideExact(w, ws, rAdd({ num: BigInt(aj), den: BigInt(t) }, rationalOf(-this.c)), poissonRatio(this.muR, this.m, j)) ? 1 : 0;
      if (d === 1) return k;
    }
  }

}

/** R(j) = f(m+j)/f(m) for Poisson(mu) as an exact rational (product tree; slow path only). */
function poissonRatio(mu: Rational, m: number, j: number): Rational {
  const factors: bigint[] = [];
  if (j >= 0) {
    for (let i = m + 1; i <= m + j; i++) factors.push(BigInt(i));
    return { num: mu.num ** BigInt(j), den: mu.den ** BigInt(j) * product(factors) };
  }
  for (let i = m + j + 1; i <= m; i++) factors.push(BigInt(i));
  return { num: product(factors) * mu.den ** BigInt(-j), den: mu.num ** BigInt(-j) };
}

function product(xs: bigint[]): bigint {
  if (xs.length === 0) return 1n;
  let level = xs;
  while (level.length > 1) {
    const next: bigint[] = [];
    for (let i = 0; i < level.length; i += 2) next.push(i + 1 < level.length ? level[i]! * level[i + 1]! : level[i]!);
    level = next;
  }
  return level[0]!;
}

/**
 * `count` independent exact draws from Skellam Sk(mu, mu), the difference of
 * two independent Poisson(mu) variables (mean 0, variance 2 mu).
 */
export function sampleSkellam(mu: number, count: number, rng: RandomSource = systemRandom): Int32Array {
  validateCount(count);
  const sampler = poissonSampler(mu);
  const ws = new WordStream(rng);
  const out = new Int32Array(count);
  for (let i = 0; i < count; i++) out[i] = sampler.sample(ws) - sampler.sample(ws);
  return out;
}

/** `count` independent exact Poisson(mu) draws (exported for tests and the Skellam docs). */
export function samplePoisson(mu: number, count: number, rng: RandomSource = systemRandom): Int32Array {
  validateCount(count);
  const sampler = poissonSampler(mu);
  const ws = new WordStream(rng);
  const out = new Int32Array(count);
  for (let i = 0; i < count; i++) out[i] = sampler.sample(ws);
  return out;
}
