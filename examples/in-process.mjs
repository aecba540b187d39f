#!/usr/bin/env node
// The library in process: the same federated server and client apps as a
// deployment, over the in-memory transport. Ten MNIST clients, distributed
// DP calibrated to a target epsilon, secure aggregation, a signed ledger.
//
//   node examples/in-process.mjs [--clients 10] [--rounds 3] [--examples 2000] [--epsilon 8 | --noise-multiplier z] [--hidden 32] [--layers 1] [--sample-rate 1]
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { createInProcessRun, loadMnist, subset, evaluateAccuracy, selectBackend } from 'fedveil/fl';
import { buildModel } from './mnist/model.mjs';

const argv = process.argv.slice(2);
const opt = (name, dflt) => (argv.includes(name) ? Number(argv[argv.indexOf(name) + 1]) : dflt);
const clients = opt('--clients', 10);
const rounds = opt('--rounds', 3);
const examples = opt('--examples', 2000);
const epsilon = opt('--epsilon', 8);
const z = opt('--noise-multiplier', undefined);
const hidden = opt('--hidden', 32);
const layers = opt('--layers', 1);
const q = opt('--sample-rate', 1);

await selectBackend('auto');
const { train, test } = await loadMnist({ trainLimit: examples, testLimit: 2000 });
const per = Math.floor(train.n / clients);
const shards = Array.from({ length: clients }, (_v, i) => ({ data: subset(train, Array.from({ length: per }, (_w, j) => i * per + j)) }));
const ledger = path.join(mkdtempSync(path.join(tmpdir(), 'fedveil-in-process-')), 'ledger.jsonl');
const run = await createInProcessRun({
  model: () => buildModel(tf, hidden, layers),
  sampleRate: q,
  clients: shards,
  rounds,
  training: { epochs: 1, batchSize: 10, learningRate: 0.1 },
  privacy: { epsilon: z === undefined ? epsilon : 1e6, delta: 1e-5, clipNorm: 1, ledger, ...(z === undefined ? {} : { noiseMultiplier: z }) },
  evaluate: (model) => evaluateAccuracy(model, test),
  onRound: (r) => process.stderr.write(`round ${r.round}: accuracy ${r.accuracy.toFixed(4)}, epsilon ${r.epsilon.toFixed(3)} (${r.guarantee}), ${r.survived} clients, ${r.seconds.toFixed(1)} s\n`),
});
const { rounds: reports } = await run.run();
await run.close();
process.stdout.write(JSON.stringify({ rounds: reports.length, accuracy: reports.at(-1).accuracy, epsilon: reports.at(-1).epsilon, noiseMultiplier: run.noiseMultiplier, ledger }) + '\n');
