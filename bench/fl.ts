/**
 * Federated-learning benchmarks (results and commands in docs/fl.md).
 *
 *   npx tsx bench/fl.ts --experiment <name> [--json] [--rounds R] [--seed S] [--aggregation secagg|plain-sum]
 *
 * Experiments:
 * - backend: median time of one local epoch of the 2NN (784-200-200-10)
 *   on 600 MNIST examples, B = 10, for every tfjs backend that loads.
 * - mcmahan-iid / mcmahan-shards: McMahan et al. 2017's 2NN, 100 clients,
 *   C = 0.1 (Poisson sampling, q = 0.1), E = 1, B = 10, client lr 0.1,
 *   non-private, every round through secure aggregation with integer
 *   encoding; stops at 97% test accuracy or the round cap (--rounds).
 * - privacy: user-level DP at delta = 1e-5 for each --epsilons value
 *   (default 8,4,2; `none` = same settings without DP) with the settings
 *   printed in the output. Every row carries both guarantees: `epsilon`
 *   (`guarantee` 'model-observers': amplified by the Poisson sampling, valid
 *   only if sampling was done as recorded) and `againstCoordinator` (no
 *   amplification; the simulated client with the most participations and
 *   the median client). Options: --clients, --sample-rate, --rounds,
 *   --model mlp|2nn|linear, --hidden, --epochs, --batch-size, --lr, --clip,
 *   --strategy fedavg|fedadam|fedyogi, --server-lr, --mechanism ddg|skellam,
 *   --eval-every.
 * - overhead: the default `fedveil simulate` run; per-round privacy-layer
 *   time (encode + noise + secure aggregation + decode) / local training time.
 *
 * Timings are noisy on a shared machine; the ratios are measured in the same run.
 */
import { cpus, loadavg, totalmem, tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { selectBackend, describeBackend } from '../src/fl/backend.js';
import { loadMnist, subset } from '../src/fl/mnist.js';
import { build2nn, trainLocal } from '../src/fl/train.js';
import { deterministicRandom } from '../src/crypto/random.js';
import { runSimulation, setupSimulation, type SimulationParams } from '../src/fl/simulation.js';
import type { RoundReport } from '../src/fl/server.js';

const args = process.argv.slice(2);
const json = args.includes('--json');
function opt(name: string): string | undefined {
  const i = args.indexOf(name);
  return i < 0 ? undefined : args[i + 1];
}
const experiment = opt('--experiment') ?? 'backend';
const seed = Number(opt('--seed') ?? 1);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const machine = { node: process.version, cpus: cpus().length, cpu: cpus()[0]?.model ?? 'unknown', memGB: Math.round(totalmem() / 2 ** 30) };
const log = (s: string): void => void process.stderr.write(s + '\n');

async function backendBench(): Promise<Record<string, unknown>> {
  const { train } = await loadMnist({ trainLimit: 600, testLimit: 1 });
  const data = subset(train, Array.from({ length: 600 }, (_v, i) => i));
  const out: Record<string, number> = {};
  for (const b of ['tfjs-node', 'wasm', 'cpu'] as const) {
    let report;
    try {
      report = await selectBackend(b);
    } catch (err) {
      log(`${b}: unavailable (${err instanceof Error ? err.message : String(err)})`);
      continue;
    }
    const model = build2nn(1);
    const times: number[] = [];
    for (let r = 0; r < 4; r++) {
      const t0 = performance.now();
      await trainLocal(model, data, { epochs: 1, batchSize: 10, learningRate: 0.1, rng: deterministicRandom(r) });
      if (r > 0) times.push(performance.now() - t0);
    }
    model.dispose();
    out[describeBackend(report)] = median(times);
    log(`${describeBackend(report)}: ${median(times).toFixed(0)} ms per epoch of 600 examples (median of 3)`);
  }
  const wasm = Object.entries(out).find(([k]) => k.startsWith('wasm'))?.[1];
  const cpu = out['cpu (pure JS)'];
  return { msPerEpoch600: out, cpuOverWasm: wasm && cpu ? cpu / wasm : null };
}

interface RunSummary {
  params: Partial<SimulationParams>;
  backend: string;
  dim: number;
  noiseMultiplier: number | null;
  roundsRun: number;
  roundsToTarget: number | null;
  finalAccuracy: number;
  bestAccuracy: number;
  /** The ledger's epsilon, against observers of the released models (amplified by sampling). */
  epsilon: number;
  guarantee: RoundReport['guarantee'];
  /** Epsilon against the coordinator (no amplification): most-participating and median simulated client. */
  againstCoordinator: RoundReport['againstCoordinator'];
  wallSeconds: number;
  loadAverage: { start: number; end: number };
  meanClientsPerRound: number;
  medianTrainSeconds: number;
  /** Round time outside local training: encoding, noise, the protocol with its checks, decoding. */
  medianPrivacySeconds: number;
  privacyOverTrain: number;
  medianBytesPerRound: number;
  aborted: number;
  stoppedBy?: string;
  rows: Array<Pick<RoundReport, 'round' | 'sampled' | 'survived' | 'accuracy' | 'epsilon' | 'guarantee' | 'seconds'> & { bytes: number; trainSeconds: number; privacySeconds: number; coordinator: CoordinatorColumns | null }>;
}

/** The per-round figures against the coordinator (epsilon and participations of the worst-case and median client). */
interface CoordinatorColumns { maxEpsilon: number | null; maxParticipations: number; medianEpsilon: number | null; medianParticipations: number }

function coordinatorColumns(c: RoundReport['againstCoordinator']): CoordinatorColumns | null {
  return c === null ? null : { maxEpsilon: c.worst.epsilon, maxParticipations: c.worst.participations, medianEpsilon: c.median.epsilon, medianParticipations: c.median.participations };
}

function fmtCoordinator(c: CoordinatorColumns | null): string {
  if (c === null) return '';
  const f = (e: number | null): string => (e === null ? 'unbounded' : e.toFixed(3));
  return ` | eps coord max ${f(c.maxEpsilon)} (${c.maxParticipations}) median ${f(c.medianEpsilon)} (${c.medianParticipations})`;
}

async function simulate(params: Partial<SimulationParams>, target?: number): Promise<RunSummary> {
  const ledger = params.privacy === false ? undefined : join(tmpdir(), `fedveil-bench-${process.pid}-${Date.now()}.jsonl`);
  const setup = await setupSimulation({ ...params, ...(ledger ? { ledger } : {}) });
  if (ledger) log(`ledger: ${ledger}`);
  const rows: RunSummary['rows'] = [];
  const w0 = performance.now();
  const load0 = loadavg()[0]!;
  let roundsToTarget: number | null = null;
  log(`# ${JSON.stringify(params)} backend=${describeBackend(setup.backend)} dim=${setup.dim} z=${setup.noiseMultiplier}`);
  let result;
  try {
    result = await runSimulation(setup, (rep) => {
      const coordinator = coordinatorColumns(rep.againstCoordinator);
      const trainSeconds = rep.trainSeconds ?? 0;
      const privacySeconds = Math.max(0, rep.seconds - trainSeconds);
      rows.push({ round: rep.round, sampled: rep.sampled, survived: rep.survived, accuracy: rep.accuracy, epsilon: rep.epsilon, guarantee: rep.guarantee, coordinator, bytes: rep.bytes ?? 0, seconds: rep.seconds, trainSeconds, privacySeconds });
      log(`round ${rep.round} sampled ${rep.sampled} survived ${rep.survived}${rep.aborted ? ' ABORTED' : ''} acc ${rep.accuracy.toFixed(4)} eps models* ${rep.epsilon.toFixed(3)}${fmtCoordinator(coordinator)} bytes ${rep.bytes ?? 0} s ${rep.seconds.toFixed(1)} (train ${trainSeconds.toFixed(1)}, privacy layer ${privacySeconds.toFixed(2)})`);
      if (target !== undefined && roundsToTarget === null && rep.accuracy >= target) {
        roundsToTarget = rep.round;
        void setup.run.server.stop('target accuracy reached');
      }
    });
  } finally {
    await setup.close();
  }
  const wallSeconds = (performance.now() - w0) / 1000;
  const done = rows.filter((r) => r.survived > 0);
  const accs = rows.map((r) => r.accuracy).filter(Number.isFinite);
  const train = median(done.map((r) => r.trainSeconds));
  const priv = median(done.map((r) => r.privacySeconds));
  return {
    params, backend: describeBackend(setup.backend), dim: setup.dim, noiseMultiplier: setup.noiseMultiplier,
    roundsRun: rows.length, roundsToTarget, finalAccuracy: accs.at(-1) ?? NaN, bestAccuracy: Math.max(...accs),
    epsilon: rows.at(-1)?.epsilon ?? 0, guarantee: result.final.guarantee, againstCoordinator: result.final.againstCoordinator,
    wallSeconds, loadAverage: { start: load0, end: loadavg()[0]! }, meanClientsPerRound: done.reduce((a, r) => a + r.survived, 0) / Math.max(1, done.length),
    medianTrainSeconds: train, medianPrivacySeconds: priv, privacyOverTrain: priv / train,
    medianBytesPerRound: median(done.map((r) => r.bytes)), aborted: rows.length - done.length,
    ...(result.stoppedBy ? { stoppedBy: result.stoppedBy } : {}), rows,
  };
}

const aggregation = (opt('--aggregation') ?? 'secagg') as 'secagg' | 'plain-sum';

function mcmahan(split: 'iid' | 'shards'): Partial<SimulationParams> {
  return {
    clients: 100, sampleRate: 0.1, privacy: false, model: '2nn', epochs: 1, batchSize: 10, learningRate: 0.1,
    split, rounds: Number(opt('--rounds') ?? (split === 'iid' ? 150 : 300)), dropout: 0, aggregation, seed,
  };
}

function privacyRun(epsilon: number): Partial<SimulationParams> {
  return {
    clients: Number(opt('--clients') ?? 1000), sampleRate: Number(opt('--sample-rate') ?? 0.1), privacy: true, epsilon, delta: 1e-5,
    rounds: Number(opt('--rounds') ?? 30), model: (opt('--model') ?? 'mlp') as SimulationParams['model'], hidden: Number(opt('--hidden') ?? 32),
    split: 'iid', epochs: Number(opt('--epochs') ?? 1), batchSize: Number(opt('--batch-size') ?? 10), learningRate: Number(opt('--lr') ?? 0.15), clipNorm: Number(opt('--clip') ?? 0.5),
    strategy: (opt('--strategy') ?? 'fedavg') as SimulationParams['strategy'], serverLearningRate: Number(opt('--server-lr') ?? 1), dropout: 0, aggregation, seed, mechanism: (opt('--mechanism') ?? 'ddg') as 'ddg' | 'skellam',
    evalEvery: Number(opt('--eval-every') ?? 5),
  };
}

async function main(): Promise<void> {
  let result: unknown;
  if (experiment === 'backend') result = await backendBench();
  else if (experiment === 'mcmahan-iid') result = await simulate(mcmahan('iid'), 0.97);
  else if (experiment === 'mcmahan-shards') result = await simulate(mcmahan('shards'), 0.97);
  else if (experiment === 'privacy') {
    const out = [];
    // 'none': the same settings without clipping or noise (secure aggregation only), for comparison.
    for (const e of (opt('--epsilons') ?? '8,4,2').split(',')) {
      out.push(await simulate(e === 'none' ? { ...privacyRun(8), privacy: false } : privacyRun(Number(e))));
    }
    result = out;
  } else if (experiment === 'overhead') result = await simulate({ ...(opt('--seed') ? { seed } : {}), aggregation });
  else throw new Error(`unknown experiment ${experiment}`);
  const report = { experiment, machine, tfjs: tf.version.tfjs, when: new Date().toISOString(), result };
  if (json) process.stdout.write(JSON.stringify(report) + '\n');
  else process.stdout.write(JSON.stringify(report, null, 1) + '\n');
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exitCode = 1;
});
