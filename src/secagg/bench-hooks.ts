/**
 * Benchmark-only instrumentation. NOT part of the public API (not exported
 * from the package index) and never to be used in a deployment.
 *
 * `OMIT_PAIRWISE_MASK`: a client carrying a function under this symbol
 * skips the pairwise mask with every peer for which it returns true. Used by
 * `fedveil bench secagg` for large full-graph rounds: the pairwise masks of
 * two clients that both survive cancel in the sum, so when neither of them
 * is in the timed sample, both can skip that pair without changing the sum
 * the server computes or any work the server does. The masked vectors of
 * such clients are then NOT private; that is why this is a symbol, not an
 * option.
 */
export const OMIT_PAIRWISE_MASK: unique symbol = Symbol('fedveil.secagg.benchmarkOnly.omitPairwiseMask');
