// Server app of the browser example: `fedveil serve --app examples/browser/server-app.mjs`.
import { buildModel, regionOf } from './model.mjs';

export function model({ tf }) {
  return buildModel(tf);
}

// A fixed grid of points as the server's held-out set.
const grid = [];
for (let i = 0; i < 30; i++) for (let j = 0; j < 30; j++) grid.push([(i - 14.5) / 7.5, (j - 14.5) / 7.5]);

export function evaluate(model, { tf }) {
  const xs = tf.tensor2d(grid);
  const pred = model.predict(xs).argMax(-1).dataSync();
  xs.dispose();
  let ok = 0;
  grid.forEach(([x, y], k) => { if (pred[k] === regionOf(x, y)) ok++; });
  return ok / grid.length;
}
