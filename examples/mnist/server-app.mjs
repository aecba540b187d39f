// Server app for `fedveil serve --app examples/mnist/server-app.mjs`:
// the model, and its accuracy on the MNIST test set after every round.
import { loadMnist } from 'fedveil/fl';
import { buildModel, sizeOf } from './model.mjs';

export function model({ tf, args }) {
  const { hidden, layers } = sizeOf(args);
  return buildModel(tf, hidden, layers);
}

let test;
export async function evaluate(model, { args }) {
  test ??= (await loadMnist({ trainLimit: 1, testLimit: Number(args.test ?? 2000) })).test;
  const { evaluateAccuracy } = await import('fedveil/fl');
  return evaluateAccuracy(model, test);
}
