// The synthetic task: C Gaussian clusters in R^F, centre c, coordinate j at
// 2 sin(1.7 (c + 1)(j + 1)), shared by every client; unit-variance noise.
export function buildModel(tf, args) {
  const features = Number(args.features ?? 6);
  const classes = Number(args.classes ?? 3);
  const hidden = args.hidden === undefined ? [] : [Number(args.hidden)];
  const model = tf.sequential();
  hidden.forEach((units, i) => model.add(tf.layers.dense({ units, activation: 'relu', ...(i === 0 ? { inputShape: [features] } : {}) })));
  model.add(tf.layers.dense({ units: classes, activation: 'softmax', ...(hidden.length === 0 ? { inputShape: [features] } : {}) }));
  return model;
}

// Example data from a seeded generator (a xorshift): reproducible test data, not secret randomness.
export function points(args, n, seed) {
  const features = Number(args.features ?? 6);
  const classes = Number(args.classes ?? 3);
  let s = (seed >>> 0) || 1;
  const unit = () => {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    return (s + 0.5) / 2 ** 32;
  };
  const xs = [];
  const labels = [];
  for (let i = 0; i < n; i++) {
    const c = i % classes;
    const row = [];
    for (let j = 0; j < features; j++) {
      const g = Math.sqrt(-2 * Math.log(unit())) * Math.cos(2 * Math.PI * unit());
      row.push(2 * Math.sin(1.7 * (c + 1) * (j + 1)) + g);
    }
    xs.push(row);
    labels.push(c);
  }
  return { xs, labels };
}
