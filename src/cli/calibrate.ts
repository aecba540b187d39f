/**
 * `fedveil calibrate --epsilon E --delta D --sample-rate q --rounds T
 *   [--mechanism gaussian|ddg|skellam] [--accountant rdp|pld|gdp] [--tolerance t]
 *   [--against model-observers|coordinator] [--json]`:
 * the smallest central noise multiplier z (to the tolerance, default 1e-4,
 * always on the safe side) such that T rounds of the Poisson-sampled mechanism
 * are (E, D)-DP. `--json` prints `{"noiseMultiplier","epsilon",...,"guarantee"}`.
 *
 * `--mechanism ddg|skellam` calibrates the distributed integer mechanisms
 * (RDP accountant only): it needs `--dimension d` and `--min-clients t` and
 * either `--scale s` (fixed) or `--bits b` (secure-aggregation modulus bits:
 * the scale is then the largest safe one for each candidate z, as
 * planDistributedDp chooses it, with `--expected-clients n`); `--clip-norm C`
 * (default 1) and `--beta` (conditional rounding) as for `fedveil epsilon`.
 * The result then also carries the per-client noise (`localNoise`) and scale.
 *
 * The guarantee is named as in `fedveil epsilon`: "model-observers" with
 * sampling amplification (q < 1), "coordinator" without (q = 1 or
 * `--against coordinator`).
 */
import { InvalidArgumentError, Option, type Command } from 'commander';
import { InvalidArgument } from '../errors.js';
import { GUARANTEE_TEXT } from '../dp/events.js';
import type { DistributedNoiseEvent } from '../dp/distributed-rdp.js';
import { parseNumber, parsePositiveInteger, parseProbability, printJson } from './common.js';

export interface CalibrateCliOptions {
  epsilon: number;
  delta: number;
  sampleRate: number;
  rounds: number;
  accountant: 'rdp' | 'pld' | 'gdp';
  tolerance: number;
  discretization?: number;
  mechanism?: 'gaussian' | 'ddg' | 'skellam';
  clipNorm?: number;
  scale?: number;
  bits?: number;
  dimension?: number;
  minClients?: number;
  expectedClients?: number;
  beta?: number;
  against?: 'model-observers' | 'coordinator';
  json?: boolean;
}

function parsePositive(value: string): number {
  const v = parseNumber(value);
  if (!(v > 0)) throw new InvalidArgumentError(`expected a number > 0, got "${value}"`);
  return v;
}

function parseDelta(value: string): number {
  const v = parseNumber(value);
  if (!(v > 0 && v < 1)) throw new InvalidArgumentError(`expected a number in (0, 1), got "${value}"`);
  return v;
}

/** Compute what the command prints (tests call this directly). */
export async function runCalibrate(o: CalibrateCliOptions): Promise<Record<string, unknown>> {
  const dp = await import('../dp/index.js');
  const mechanism = o.mechanism ?? 'gaussian';
  const coordinator = o.against === 'coordinator';
  const q = coordinator ? 1 : o.sampleRate;
  const common = {
    epsilon: o.epsilon,
    delta: o.delta,
    samplingProbability: q,
    rounds: o.rounds,
    accountant: o.accountant,
    tolerance: o.tolerance,
    ...(o.discretization === undefined ? {} : { accountantOptions: { pld: { valueDiscretizationInterval: o.discretization } } }),
  };
  if (mechanism === 'gaussian') {
    const r = dp.calibrateNoiseMultiplier(common);
    return { mechanism, ...r, guarantee: dp.guaranteeOf(dp.poissonGaussianRounds(r.noiseMultiplier, q, o.rounds)) };
  }
  if (o.dimension === undefined || o.minClients === undefined) {
    throw new InvalidArgument(`--mechanism ${mechanism} needs --dimension and --min-clients`);
  }
  if ((o.scale === undefined) === (o.bits === undefined)) {
    throw new InvalidArgument(`--mechanism ${mechanism} needs exactly one of --scale and --bits`);
  }
  if (o.accountant !== 'rdp') throw new InvalidArgument(`--mechanism ${mechanism}: only the RDP accountant has a bound for it`);
  const clipNorm = o.clipNorm ?? 1;
  const { dimension, minClients } = o;
  const roundFor = (z: number): { event: DistributedNoiseEvent; scale: number } => {
    if (o.scale !== undefined) {
      const event = dp.distributedEvent({ mechanism, clipNorm, noiseMultiplier: z, scale: o.scale, dimension, minClients, ...(o.beta === undefined ? {} : { beta: o.beta }) });
      return { event, scale: o.scale };
    }
    const plan = dp.planDistributedDp({
      mechanism,
      clipNorm,
      noiseMultiplier: z,
      expectedClients: o.expectedClients ?? minClients,
      minClients,
      dim: dimension,
      bits: o.bits!,
      ...(o.beta === undefined ? {} : { beta: o.beta }),
    });
    const ev = plan.event;
    return { event: ev.type === 'poisson_sampled' ? ev.event : ev, scale: plan.scale };
  };
  const eventFor = (z: number) => dp.selfComposedEvent(dp.poissonSampledEvent(q, roundFor(z).event), o.rounds);
  const r = dp.calibrateNoiseMultiplier({ ...common, event: eventFor });
  const { event, scale } = roundFor(r.noiseMultiplier);
  const localNoise = event.type === 'discrete_gaussian' ? { kind: 'discrete_gaussian', sigma: event.sigma } : { kind: 'skellam', mu: event.mu };
  return { mechanism, ...r, scale, localNoise, event, guarantee: dp.guaranteeOf(eventFor(r.noiseMultiplier)) };
}

export function register(program: Command): void {
  program
    .command('calibrate')
    .description('smallest noise multiplier meeting (epsilon, delta) for a sampling rate and number of rounds (Gaussian, DDG or Skellam)')
    .requiredOption('--epsilon <E>', 'target epsilon', parsePositive)
    .requiredOption('--delta <D>', 'target delta in (0, 1)', parseDelta)
    .requiredOption('--sample-rate <q>', 'Poisson sampling rate in [0, 1]', parseProbability)
    .requiredOption('--rounds <T>', 'number of rounds', parsePositiveInteger)
    .addOption(new Option('--accountant <name>', 'accountant').choices(['rdp', 'pld', 'gdp']).default('rdp'))
    .addOption(new Option('--mechanism <name>', 'noise mechanism').choices(['gaussian', 'ddg', 'skellam']).default('gaussian'))
    .option('--clip-norm <C>', 'ddg/skellam: L2 clip norm', parsePositive, 1)
    .option('--scale <s>', 'ddg/skellam: fixed scale applied before integer rounding', parsePositive)
    .option('--bits <b>', 'ddg/skellam: secure-aggregation modulus bits (the largest safe scale is chosen per z)', parsePositiveInteger)
    .option('--dimension <d>', 'ddg/skellam: dimension of the update (padded to a power of two with --bits)', parsePositiveInteger)
    .option('--min-clients <t>', 'ddg/skellam: minimum clients whose noise is in every sum', parsePositiveInteger)
    .option('--expected-clients <n>', 'ddg/skellam with --bits: clients per round (overflow bound; default --min-clients)', parsePositiveInteger)
    .option('--beta <b>', 'ddg/skellam: conditional rounding failure probability', parseNumber)
    .option('--tolerance <t>', 'absolute tolerance on the noise multiplier', parsePositive, 1e-4)
    .option('--discretization <d>', 'PLD loss grid spacing (default: chosen from the problem)', parsePositive)
    .addOption(
      new Option('--against <who>', 'model-observers: with sampling amplification (valid if sampling was done as recorded); coordinator: without it')
        .choices(['model-observers', 'coordinator'])
        .default('model-observers'),
    )
    .option('--json', 'print one JSON object')
    .action(async (o: CalibrateCliOptions) => {
      const r = await runCalibrate(o);
      if (o.json) {
        printJson(r);
        return;
      }
      const g = r.guarantee as keyof typeof GUARANTEE_TEXT;
      const extra = r.mechanism === 'gaussian' ? '' : ` ${String(r.mechanism)}, scale ${String(r.scale)}, per-client noise ${JSON.stringify(r.localNoise)};`;
      process.stdout.write(
        `noise multiplier ${(r.noiseMultiplier as number).toFixed(6)} gives epsilon ${(r.epsilon as number).toPrecision(8)} at delta ${String(r.delta)} ` +
          `(${String(r.accountant)}${r.approximate ? ', approximate: CLT can under-report' : ''};${extra} tolerance ${String(r.tolerance)}); ${GUARANTEE_TEXT[g]}\n`,
      );
    });
}
