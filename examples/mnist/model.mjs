// The model both apps build: McMahan et al.'s 2NN (784-200-200-10) by
// default, or a smaller MLP with FEDVEIL_HIDDEN / --app-arg hidden=H.
export function buildModel(tf, hidden = 200, layers = 2) {
  const model = tf.sequential();
  for (let i = 0; i < layers; i++) model.add(tf.layers.dense({ units: hidden, activation: 'relu', ...(i === 0 ? { inputShape: [784] } : {}) }));
  model.add(tf.layers.dense({ units: 10, activation: 'softmax', ...(layers === 0 ? { inputShape: [784] } : {}) }));
  return model;
}

export function sizeOf(args) {
  return { hidden: Number(args.hidden ?? 200), layers: Number(args.layers ?? 2) };
}
