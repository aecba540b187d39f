/**
 * fedveil public API, re-exported by layer (DESIGN.md section 2).
 */
export * from './errors.js';
export * from './crypto/random.js';
