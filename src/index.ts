/**
 * fedveil public API, re-exported by layer (DESIGN.md section 2).
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
