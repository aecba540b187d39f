/**
 * `fedveil calibrate --epsilon E --delta D --sample-rate q --rounds T
 *   [--accountant rdp|pld|gdp] [--tolerance t] [--json]` (DESIGN.md section 7):
 * the smallest noise multiplier (to the tolerance, default 1e-4, always on the
 * safe side) such that T rounds of the Poisson-sampled Gaussian mechanism are
 * (E, D)-DP. `--json` prints `{"noiseMultiplier","epsilon",...}`.
 */
import { InvalidArgumentError, Option, type Command } from 'commander';
import { parseNumber, parsePositiveInteger, parseProbability, printJson } from './common.js';

interface CalibrateCliOptions {
  epsilon: number;
  delta: number;
  sampleRate: number;
  rounds: number;
  accountant: 'rdp' | 'pld' | 'gdp';
  tolerance: number;
  discretization?: number;
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

export function register(program: Command): void {
  program
    .command('calibrate')
    .description('smallest noise multiplier meeting (epsilon, delta) for a sampling rate and number of rounds')
    .requiredOption('--epsilon <E>', 'target epsilon', parsePositive)
    .requiredOption('--delta <D>', 'target delta in (0, 1)', parseDelta)
    .requiredOption('--sample-rate <q>', 'Poisson sampling rate in [0, 1]', parseProbability)
    .requiredOption('--rounds <T>', 'number of rounds', parsePositiveInteger)
    .addOption(new Option('--accountant <name>', 'accountant').choices(['rdp', 'pld', 'gdp']).default('rdp'))
    .option('--tolerance <t>', 'absolute tolerance on the noise multiplier', parsePositive, 1e-4)
    .option('--discretization <d>', 'PLD loss grid spacing (default 5e-4)', parsePositive)
    .option('--json', 'print one JSON object')
    .action(async (o: CalibrateCliOptions) => {
      const { calibrateNoiseMultiplier } = await import('../dp/calibrate.js');
      const r = calibrateNoiseMultiplier({
        epsilon: o.epsilon,
        delta: o.delta,
        samplingProbability: o.sampleRate,
        rounds: o.rounds,
        accountant: o.accountant,
        tolerance: o.tolerance,
        ...(o.discretization === undefined ? {} : { accountantOptions: { pld: { valueDiscretizationInterval: o.discretization } } }),
      });
      if (o.json) {
        printJson(r);
        return;
      }
      process.stdout.write(
        `noise multiplier ${r.noiseMultiplier.toFixed(6)} gives epsilon ${r.epsilon.toPrecision(8)} at delta ${r.delta} ` +
          `(${r.accountant}${r.approximate ? ', approximate: CLT can under-report' : ''}; tolerance ${r.tolerance})\n`,
      );
    });
}
