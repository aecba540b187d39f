// The model of the browser example, built on both sides with the tfjs
// namespace they are given (the page: the bundle's `tf`; the server: ctx.tf):
// a small MLP that tells which of 3 regions of the plane a point is in.
export function buildModel(tf) {
  return tf.sequential({ layers: [
    tf.layers.dense({ inputShape: [2], units: 16, activation: 'relu' }),
    tf.layers.dense({ units: 3, activation: 'softmax' }),
  ] });
}

// The task: the region of a point by its angle (3 sectors of 120 degrees).
export function regionOf(x, y) {
  const a = Math.atan2(y, x) + Math.PI;
  return Math.min(2, Math.floor((3 * a) / (2 * Math.PI)));
}
