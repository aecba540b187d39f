/**
 * `fedveil simulate` (the main job, `npm start`): federated
 * training of a tfjs model on MNIST across simulated clients, every round
 * through the privacy layer (distributed DP + secure aggregation), with a
 * signed privacy ledger that `fedveil audit` verifies.
 *
 * One line per round on stdout (round, sampled, survived, test accuracy,
 * epsilon spent under both guarantees, bytes, seconds), then a summary;
 * `--json` prints one object {parameters, rounds, final: {accuracy,
 * epsilon, delta, guarantee, againstCoordinator}} and nothing else on
 * stdout. A progress bar goes to stderr only when stderr is a TTY.
 *
 * Two epsilons, always stated apart: against observers of the released
 * models (the ledger's, amplified by the Poisson sampling; valid only if
 * sampling was done as recorded) and against the coordinator (no
 * amplification: the coordinator chooses the sample), per client from the
 * rounds it took part in, for the client with the most participations and
 * the median client among all simulated clients.
 *
 * This is a SIMULATION: all clients run in this process; `--seed` makes it
 * reproducible by drawing all randomness from a seeded deterministic
 * generator, which is acceptable here and never in a deployment. The
 * ledger's signing key is always fresh from the system CSPRNG.
 */
import { Option, type Command } from 'commander';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_SIMULATION, type SimulationParams } from '../fl/simulation-params.js';
import { CliExit, parseInteger, parseNumber, parsePositiveInteger, parseProbability, printJson, parseDropout } from './common.js';

/** The command's options: the simulation's parameters under their flag names. */
type SimulateCliOptions = Omit<SimulationParams, 'learningRate' | 'serverLearningRate' | 'evalEvery'> & {
  lr: number;
  serverLr?: number;
  json?: boolean;
};

function fmtBytes(b: number): string {
  if (b >= 2 ** 30) return `${(b / 2 ** 30).toFixed(2)} GiB`;
  if (b >= 2 ** 20) return `${(b / 2 ** 20).toFixed(1)} MiB`;
  if (b >= 2 ** 10) return `${(b / 2 ** 10).toFixed(1)} KiB`;
  return `${b} B`;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function fmtEpsilon(e: number | null): string {
  return e === null ? 'n/a' : Number.isFinite(e) ? e.toFixed(3) : String(e);
}

async function action(o: SimulateCliOptions): Promise<void> {
  const { setupSimulation, runSimulation } = await import('../fl/simulation.js');
  const { describeBackend } = await import('../fl/backend.js');
  if (!o.privacy && o.ledger !== undefined) throw new CliExit(2, '--ledger needs privacy: a --no-privacy run spends no budget and writes no ledger');
  if (o.ledger !== undefined && existsSync(o.ledger)) throw new CliExit(2, `--ledger ${o.ledger} exists: simulate writes a new ledger and never overwrites or continues one; give a new file name`, 'LEDGER_EXISTS');
  const ledger = o.privacy ? o.ledger ?? join(tmpdir(), `fedveil-simulate-${Date.now()}-${process.pid}.jsonl`) : undefined;
  const params = {
    clients: o.clients, rounds: o.rounds, sampleRate: o.sampleRate, privacy: o.privacy, epsilon: o.epsilon, delta: o.delta,
    mechanism: o.mechanism, accountant: o.accountant, clipNorm: o.clipNorm, bits: o.bits, dropout: o.dropout, split: o.split,
    alpha: o.alpha, model: o.model, hidden: o.hidden, epochs: o.epochs, batchSize: o.batchSize, learningRate: o.lr,
    proximalMu: o.proximalMu, strategy: o.strategy,
    serverLearningRate: o.serverLr ?? (o.strategy === 'fedavg' ? DEFAULT_SIMULATION.serverLearningRate : 0.01),
    trainExamples: o.trainExamples, testExamples: o.testExamples, aggregation: o.aggregation, backend: o.backend,
    ...(o.noiseMultiplier === undefined ? {} : { noiseMultiplier: o.noiseMultiplier }),
    ...(o.seed === undefined ? {} : { seed: o.seed }),
    ...(ledger === undefined ? {} : { ledger }),
  };
  const say = (s: string): void => {
    if (!o.json) process.stdout.write(s + '\n');
  };
  const t0 = performance.now();
  const setup = await setupSimulation(params);
  const epc = setup.examplesPerClient;
  say(`fedveil simulate: ${o.clients} clients (${o.split} split, ${epc.min}-${epc.max} examples each), q=${o.sampleRate} (~${Math.round(o.clients * o.sampleRate)} per round), ${o.rounds} rounds, model ${o.model} (${setup.dim} parameters), backend ${describeBackend(setup.backend)}`);
  if (o.privacy) {
    say(`privacy: user-level (${o.epsilon}, ${o.delta})-DP target, ${o.mechanism} noise multiplier z=${setup.noiseMultiplier?.toFixed(4)}, clip ${o.clipNorm}, noise calibrated each round to the roster's honest minimum (minSurvivors - 1 colluder), ${o.bits}-bit secure aggregation (active mode, certified in-process clients)${o.aggregation === 'plain-sum' ? ' (SIMULATED in the clear: --aggregation plain-sum)' : ''}; ledger ${ledger}`);
  } else {
    say(`privacy: OFF (--no-privacy): secure aggregation with 24-bit integer encoding, no clipping, no noise, no ledger`);
  }
  if (o.privacy) {
    say(`eps models*: epsilon against observers of the released models, amplified by the sampling at q=${o.sampleRate}, valid only if sampling was done as recorded`);
    say('eps coord max / median: epsilon against the coordinator (no amplification: it chooses the sample), for the client with the most participations and the median client (k = rounds taken part in)');
  }
  say('round  sampled  survived  accuracy  eps models*  eps coord max (k)  eps coord median (k)  bytes       seconds');

  let bar: import('cli-progress').SingleBar | undefined;
  if (process.stderr.isTTY && !process.env.CI) {
    const { default: cliProgress } = await import('cli-progress');
    bar = new cliProgress.SingleBar({ stream: process.stderr, format: 'rounds [{bar}] {value}/{total} acc {acc} eps models* {eps} eps coord max {epsc}', hideCursor: true, clearOnComplete: true }, cliProgress.Presets.shades_classic);
    bar.start(o.rounds, 0, { acc: '-', eps: '-', epsc: '-' });
  }
  let result;
  try {
    result = await runSimulation(setup, (r) => {
      const acc = Number.isFinite(r.accuracy) ? (100 * r.accuracy).toFixed(2) + '%' : '-';
      const eps = o.privacy ? r.epsilon.toFixed(3) : '-';
      const coord = (e: { participations: number; epsilon: number | null } | undefined): string => (e === undefined ? '-' : `${fmtEpsilon(e.epsilon)} (${e.participations})`);
      const epsMax = coord(r.againstCoordinator?.worst);
      const epsMedian = coord(r.againstCoordinator?.median);
      bar?.increment(1, { acc, eps, epsc: epsMax });
      if (!o.json) {
        bar?.stop();
        say(`${String(r.round).padStart(5)}  ${String(r.sampled).padStart(7)}  ${String(r.survived).padStart(8)}  ${acc.padStart(8)}  ${eps.padStart(11)}  ${epsMax.padStart(17)}  ${epsMedian.padStart(20)}  ${fmtBytes(r.bytes ?? 0).padStart(10)}  ${r.seconds.toFixed(1).padStart(7)}${r.aborted ? `  aborted: ${r.reason ?? ''}` : ''}`);
        bar?.start(o.rounds, r.round, { acc, eps, epsc: epsMax });
      }
    });
  } finally {
    bar?.stop();
    await setup.close();
  }
  const seconds = (performance.now() - t0) / 1000;
  const done = result.rounds.filter((r) => !r.aborted);
  const train = done.reduce((a, r) => a + (r.trainSeconds ?? 0), 0);
  // Everything in a round but local training: encoding, noise, the protocol and its checks, decoding.
  const priv = done.reduce((a, r) => a + Math.max(0, r.seconds - (r.trainSeconds ?? 0)), 0);
  if (o.json) {
    printJson({
      parameters: { ...params, backend: describeBackend(setup.backend), dimension: setup.dim, noiseMultiplier: setup.noiseMultiplier, examplesPerClient: epc },
      rounds: result.rounds,
      final: result.final,
      ...(result.stoppedBy ? { stoppedBy: result.stoppedBy } : {}),
      ledger: ledger ?? null,
      seconds,
    });
    return;
  }
  const ac = result.final.againstCoordinator;
  say(`summary: ${done.length}/${result.rounds.length} rounds completed, final test accuracy ${(100 * result.final.accuracy).toFixed(2)}%, ` +
    (o.privacy
      ? `epsilon ${result.final.epsilon.toFixed(3)} at delta ${o.delta} against observers of the released models (amplified, valid only if sampling was done as recorded; budget ${o.epsilon}, ${o.accountant})` +
        (ac ? `; against the coordinator (no amplification) ${fmtEpsilon(ac.worst.epsilon)} for the client with the most participations (${plural(ac.worst.participations, 'round')}), ${fmtEpsilon(ac.median.epsilon)} for the median client (${plural(ac.median.participations, 'round')})` : '')
      : 'no privacy guarantee (--no-privacy)') +
    `, ${seconds.toFixed(1)} s total; privacy layer ${priv.toFixed(1)} s vs local training ${train.toFixed(1)} s (${train > 0 ? (priv / train).toFixed(2) : '-'}x)`);
  if (result.stoppedBy) say(`stopped early by the budget guard: ${result.stoppedBy}`);
  if (ledger) say(`ledger: ${ledger}  (verify: fedveil audit ${ledger})`);
}

export function register(program: Command): void {
  const d = { ...DEFAULT_SIMULATION, lr: DEFAULT_SIMULATION.learningRate };
  program
    .command('simulate')
    .description('federated training on MNIST through distributed DP + secure aggregation; writes a privacy ledger')
    .option('--clients <N>', 'number of simulated clients', parsePositiveInteger, d.clients)
    .option('--rounds <R>', 'training rounds', parsePositiveInteger, d.rounds)
    .option('--sample-rate <q>', 'Poisson client sampling rate per round', parseProbability, d.sampleRate)
    .option('--epsilon <E>', 'user-level epsilon budget (noise calibrated to reach it after R rounds)', parseNumber, d.epsilon)
    .option('--delta <D>', 'delta', parseNumber, d.delta)
    .addOption(new Option('--mechanism <m>', 'integer noise').choices(['ddg', 'skellam']).default(d.mechanism))
    .addOption(new Option('--accountant <a>', 'accountant for calibration and the ledger (PLD/GDP have no bound for the integer mechanisms yet)').choices(['rdp']).default(d.accountant))
    .option('--noise-multiplier <z>', 'fix the noise multiplier instead of calibrating it', parseNumber)
    .option('--clip-norm <C>', 'L2 clip norm of a client update', parseNumber, d.clipNorm)
    .option('--bits <b>', 'secure-aggregation modulus bits (private mode)', parsePositiveInteger, d.bits)
    .option('--dropout <p>', 'probability that a sampled client drops out mid-protocol, in [0, 1)', parseDropout, d.dropout)
    .addOption(new Option('--split <s>', 'data split across clients').choices(['iid', 'shards', 'dirichlet']).default(d.split))
    .option('--alpha <a>', 'Dirichlet concentration for --split dirichlet', parseNumber, d.alpha)
    .addOption(new Option('--model <m>', 'mlp (784-hidden-10), 2nn (784-200-200-10), linear').choices(['mlp', '2nn', 'linear']).default(d.model))
    .option('--hidden <h>', 'hidden units of the mlp model', parsePositiveInteger, d.hidden)
    .option('--epochs <E>', 'local epochs', parsePositiveInteger, d.epochs)
    .option('--batch-size <B>', 'local batch size', parsePositiveInteger, d.batchSize)
    .option('--lr <eta>', 'client learning rate (SGD)', parseNumber, d.lr)
    .option('--proximal-mu <mu>', 'FedProx proximal term', parseNumber, d.proximalMu)
    .addOption(new Option('--strategy <s>', 'server optimiser').choices(['fedavg', 'fedadam', 'fedyogi']).default(d.strategy))
    .option('--server-lr <eta>', 'server learning rate (default 1 for fedavg, 0.01 for fedadam/fedyogi)', parseNumber)
    .option('--train-examples <n>', 'MNIST training examples to use (first n)', parsePositiveInteger, d.trainExamples)
    .option('--test-examples <n>', 'MNIST test examples to evaluate on', parsePositiveInteger, d.testExamples)
    .addOption(new Option('--aggregation <a>', 'secagg (the protocol) or plain-sum (NOT SECURE: same sum in the clear, benchmarks only)').choices(['secagg', 'plain-sum']).default(d.aggregation))
    .addOption(new Option('--backend <b>', 'tfjs backend').choices(['auto', 'tfjs-node', 'wasm', 'cpu']).default(d.backend))
    .option('--ledger <file>', 'privacy ledger to create (default: a new file in the temp directory)')
    .option('--seed <S>', 'reproducible simulation (deterministic randomness: never for deployments)', parseInteger)
    .option('--no-privacy', 'secure aggregation without clipping or noise (McMahan et al. 2017 reproduction)')
    .option('--json', 'print one JSON object')
    .action(async (opts: SimulateCliOptions) => {
      if (opts.seed !== undefined && opts.seed < 0) throw new CliExit(2, '--seed must be >= 0');
      await action(opts);
    });
}
