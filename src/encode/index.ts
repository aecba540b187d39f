/**
 * fedveil/encode: turning a float model update into b-bit integers that
 * secure aggregation can sum, and the server's way back (docs/encode.md). The pipeline follows Kairouz, Liu, Steinke, "The Distributed
 * Discrete Gaussian Mechanism for Federated Learning with Secure
 * Aggregation", ICML 2021 (Algorithm 1), shared with the Skellam mechanism
 * of Agarwal, Kairouz, Liu, NeurIPS 2021:
 *
 *   client:  clipL2 -> rotate (randomized Hadamard, public seed) -> scale
 *            -> stochasticRound -> (+ integer DP noise, dp/) -> wrap -> mask
 *            -> packBits
 *   server:  unpackBits -> addModInto (sum mod 2^b) -> centre -> / scale
 *            -> unrotate -> / count
 *
 * Every function validates its inputs at the boundary and throws
 * InvalidArgument (code INVALID_ARGUMENT) for wrong types, lengths, bit
 * widths, seeds, or NaN / infinite entries (named by index).
 */
export { l2Norm, clipL2, scale, type FloatVector } from './norm.js';
export { paddedLength, rotate, unrotate, fwht, rotationSigns, ROTATION_SEED_BYTES } from './hadamard.js';
export { stochasticRound } from './rounding.js';
export { wrap, centre, addModInto, subModInto, modulusMask } from './modular.js';
export { packBits, unpackBits, packedLength } from './pack.js';
