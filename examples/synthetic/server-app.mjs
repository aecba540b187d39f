// The built-in synthetic task as a server app:
//   fedveil serve --app examples/synthetic/server-app.mjs --app-arg features=6 --app-arg classes=3
// (what `fedveil serve --model softmax:6:3` runs): a softmax regression, or
// an MLP with --app-arg hidden=H, evaluated on 500 held-out points of the
// task's clusters.
import { buildModel, points } from './task.mjs';

export const model = ({ tf, args }) => buildModel(tf, args);

let heldOut;
export function evaluate(model, { tf, args }) {
  heldOut ??= points(args, 500, 0x5eed);
  const xs = tf.tensor2d(heldOut.xs);
  const pred = model.predict(xs).argMax(-1).dataSync();
  xs.dispose();
  let ok = 0;
  heldOut.labels.forEach((l, i) => { if (pred[i] === l) ok++; });
  return ok / heldOut.labels.length;
}
