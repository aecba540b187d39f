/**
 * fedveil's differential-privacy layer (DESIGN.md sections 4 and 5):
 * privacy events, accountants (RDP, PLD, GDP-CLT) and calibration; the
 * distributed-noise RDP bounds, samplers, planner and pipeline; the privacy
 * ledger, its verifier and the epsilon plot.
 */
export * from './events.js';
export * from './special.js';
export * from './accountant.js';
export * from './rdp.js';
export * from './pld.js';
export * from './gdp.js';
export * from './calibrate.js';
export * from './distributed-rdp.js';
export * from './samplers.js';
export * from './plan.js';
export * from './pipeline.js';
export * from './ledger-format.js';
export * from './ledger-verify.js';
export * from './ledger.js';
export * from './plot.js';
export * from './plan-verify.js';
export * from './client-ledger.js';
export * from './client-ledger-node.js';
export * from './client-ledger-idb.js';
