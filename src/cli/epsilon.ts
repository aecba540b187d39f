/**
 * `fedveil epsilon --noise-multiplier z --sample-rate q --rounds T --delta D
 *   [--accountant rdp|pld|gdp|all] [--mechanism gaussian|ddg|skellam ...]
 *   [--against model-observers|coordinator] [--json]`:
 * the epsilon of T rounds of Poisson-sampled noise addition. `--json` prints
 * `{"accountant","epsilon","delta","order"?,"guarantee"}` or, for `all`,
 * `{"rdp":{...},"pld":{...},"gdp":{...}}`. GDP results carry
 * `"approximate": true` (the CLT can under-report).
 *
 * Every result names its guarantee: with sampling amplification (q < 1) it is
 * `"guarantee": "model-observers"`, i.e. against observers of the released
 * models, valid if sampling was done as recorded; `--against coordinator`
 * (or q = 1) drops the amplification, giving the epsilon against the
 * coordinator, who knows which clients were sampled (`"coordinator"`).
 *
 * For `--mechanism ddg|skellam` the per-round event is built by
 * distributedEvent (src/dp/distributed-rdp.ts) from the clip norm, scale,
 * padded dimension and minimum clients t; only the RDP accountant has a
 * bound for those mechanisms (PLD/GDP report `{"unsupported": reason}` in
 * `all` mode and exit 1 when asked for alone).
 */
import { InvalidArgumentError, Option, type Command } from 'commander';
import { InfeasibleParameters, InvalidArgument } from '../errors.js';
import { parseNumber, parsePositiveInteger, parseProbability, printJson } from './common.js';
import { GUARANTEE_TEXT, type Guarantee } from '../dp/events.js';

type Kind = 'rdp' | 'pld' | 'gdp';

export interface EpsilonCliOptions {
  noiseMultiplier: number;
  sampleRate: number;
  rounds: number;
  delta: number;
  accountant: Kind | 'all';
  mechanism: 'gaussian' | 'ddg' | 'skellam';
  clipNorm: number;
  scale: number;
  dimension?: number;
  minClients?: number;
  beta?: number;
  discretization?: number;
  against?: 'model-observers' | 'coordinator';
  json?: boolean;
}

function parseDelta(value: string): number {
  const v = parseNumber(value);
  if (!(v > 0 && v < 1)) throw new InvalidArgumentError(`expected a number in (0, 1), got "${value}"`);
  return v;
}

function parsePositive(value: string): number {
  const v = parseNumber(value);
  if (!(v > 0)) throw new InvalidArgumentError(`expected a number > 0, got "${value}"`);
  return v;
}

/** Compute what the command prints (tests call this directly). */
export async function runEpsilon(o: EpsilonCliOptions): Promise<Record<string, unknown>> {
  const dp = await import('../dp/index.js');
  let event;
  if (o.mechanism === 'gaussian') {
    event = dp.poissonGaussianRounds(o.noiseMultiplier, o.sampleRate, o.rounds);
  } else {
    if (o.dimension === undefined || o.minClients === undefined) {
      throw new InvalidArgument(`--mechanism ${o.mechanism} needs --dimension and --min-clients`);
    }
    const round = dp.distributedEvent({
      mechanism: o.mechanism,
      clipNorm: o.clipNorm,
      noiseMultiplier: o.noiseMultiplier,
      scale: o.scale,
      dimension: o.dimension,
      minClients: o.minClients,
      ...(o.beta === undefined ? {} : { beta: o.beta }),
    });
    event = dp.selfComposedEvent(dp.poissonSampledEvent(o.sampleRate, round), o.rounds);
  }
  if (o.against === 'coordinator') event = dp.withoutSamplingAmplification(event);
  const guarantee = dp.guaranteeOf(event);
  const one = (kind: Kind): Record<string, unknown> => {
    const r = dp.computeEpsilon(event, o.delta, kind, o.discretization === undefined ? {} : { pld: { valueDiscretizationInterval: o.discretization } });
    return { ...r, guarantee };
  };
  if (o.accountant !== 'all') return one(o.accountant);
  const out: Record<string, unknown> = {};
  for (const kind of ['rdp', 'pld', 'gdp'] as const) {
    try {
      out[kind] = one(kind);
    } catch (err) {
      // One accountant without a bound (or too large a PLD grid) must not hide the others' answers.
      if (err instanceof dp.UnsupportedEvent) out[kind] = { accountant: kind, unsupported: err.message, guarantee };
      else if (err instanceof InfeasibleParameters) out[kind] = { accountant: kind, error: err.message, guarantee };
      else throw err;
    }
  }
  return out;
}

function line(r: Record<string, unknown>): string {
  if ('unsupported' in r) return `${String(r.accountant)}: unsupported (${String(r.unsupported)})`;
  if ('error' in r) return `${String(r.accountant)}: ${String(r.error)}`;
  const eps = r.epsilon as number;
  let s = `${String(r.accountant)}: epsilon = ${Number.isFinite(eps) ? eps.toPrecision(8) : String(eps)} at delta = ${String(r.delta)}`;
  if (r.order !== undefined) s += ` (order ${String(r.order)})`;
  if (r.approximate) s += ' [approximate: CLT, can under-report]';
  if (typeof r.guarantee === 'string') s += `; ${GUARANTEE_TEXT[r.guarantee as Guarantee]}`;
  if (Array.isArray(r.warnings)) s += `\n  warnings: ${r.warnings.length} (e.g. ${String(r.warnings[0])})`;
  return s;
}

export function register(program: Command): void {
  program
    .command('epsilon')
    .description('epsilon of T rounds of Poisson-sampled Gaussian (or DDG/Skellam) noise, with RDP, PLD and/or GDP accounting')
    .requiredOption('--noise-multiplier <z>', 'noise standard deviation / L2 sensitivity (central)', parsePositive)
    .requiredOption('--sample-rate <q>', 'Poisson sampling rate in [0, 1]', parseProbability)
    .requiredOption('--rounds <T>', 'number of rounds', parsePositiveInteger)
    .requiredOption('--delta <D>', 'target delta in (0, 1)', parseDelta)
    .addOption(new Option('--accountant <name>', 'accountant').choices(['rdp', 'pld', 'gdp', 'all']).default('rdp'))
    .addOption(new Option('--mechanism <name>', 'noise mechanism').choices(['gaussian', 'ddg', 'skellam']).default('gaussian'))
    .option('--clip-norm <C>', 'ddg/skellam: L2 clip norm', parsePositive, 1)
    .option('--scale <s>', 'ddg/skellam: scale applied before integer rounding', parsePositive, 1)
    .option('--dimension <d>', 'ddg/skellam: padded dimension', parsePositiveInteger)
    .option('--min-clients <t>', 'ddg/skellam: minimum clients whose noise is in every sum (I6)', parsePositiveInteger)
    .option('--beta <b>', 'ddg/skellam: conditional rounding failure probability', parseNumber)
    .option('--discretization <d>', 'PLD loss grid spacing (default 5e-4; 1e-4 reproduces dp_accounting)', parsePositive)
    .addOption(
      new Option('--against <who>', 'model-observers: with sampling amplification (valid if sampling was done as recorded); coordinator: without it')
        .choices(['model-observers', 'coordinator'])
        .default('model-observers'),
    )
    .option('--json', 'print one JSON object')
    .action(async (opts: EpsilonCliOptions) => {
      const result = await runEpsilon(opts);
      if (opts.json) {
        printJson(result);
        return;
      }
      const lines = opts.accountant === 'all' ? Object.values(result).map((r) => line(r as Record<string, unknown>)) : [line(result)];
      process.stdout.write(lines.join('\n') + '\n');
    });
}
