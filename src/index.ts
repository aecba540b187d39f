/**
 * fedveil public API: the typed errors and the core layers (crypto,
 * encode, secagg, dp), each re-exported from its own entry point
 * (`fedveil/crypto`, ...). Internal helpers are not exported; see
 * docs/architecture.md for the layers and what each may import.
 *
 * The tfjs-dependent layer (`fedveil/fl`) and the Node-only transport
 * (`fedveil/transport`) are separate entry points, so that importing the
 * core (crypto, encode, secagg, dp) never loads tfjs or `ws`.
 */
export * from './errors.js';
export * from './crypto/index.js';
export * from './encode/index.js';
export * from './secagg/index.js';
export * from './dp/index.js';
