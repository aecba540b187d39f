// Client app for `fedveil join --app examples/mnist/client-app.mjs
// --app-arg shard=I --app-arg shards=K`: shard I of K of the MNIST training
// images (contiguous, IID after MNIST's own order) is this client's data;
// a slice of the test set is its held-out data for federated evaluation.
import { loadMnist, subset } from 'fedveil/fl';
import { buildModel, sizeOf } from './model.mjs';

export function model({ tf, args }) {
  const { hidden, layers } = sizeOf(args);
  return buildModel(tf, hidden, layers);
}

function shardOf(args, n) {
  const shard = Number(args.shard ?? 0);
  const shards = Number(args.shards ?? 1);
  if (!Number.isInteger(shard) || !Number.isInteger(shards) || shard < 0 || shard >= shards) throw new Error(`shard ${args.shard} of ${args.shards}: expected 0 <= shard < shards`);
  const per = Math.floor(n / shards);
  return Array.from({ length: per }, (_v, i) => shard * per + i);
}

export async function data({ args }) {
  const total = Number(args.examples ?? 60000);
  const { train } = await loadMnist({ trainLimit: total, testLimit: 1 });
  return subset(train, shardOf(args, train.n));
}

export async function evaluationData({ args }) {
  const { test } = await loadMnist({ trainLimit: 1, testLimit: 10000 });
  return subset(test, shardOf(args, test.n));
}

export const training = { epochs: 1, batchSize: 10, learningRate: 0.1 };
