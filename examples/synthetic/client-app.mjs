// The built-in synthetic task as a client app:
//   fedveil join --app examples/synthetic/client-app.mjs --app-arg features=6 --app-arg classes=3 --app-arg seed=S
// Each client draws 64 points of the task's clusters from its own seed.
import { buildModel, points } from './task.mjs';

export const model = ({ tf, args }) => buildModel(tf, args);
export const data = ({ args }) => points(args, Number(args.examples ?? 64), Number(args.seed ?? 1));
export const evaluationData = ({ args }) => points(args, 32, Number(args.seed ?? 1) + 7919);
export const training = { epochs: 1, batchSize: 16, learningRate: 0.1 };
