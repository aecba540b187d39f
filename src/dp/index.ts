/**
 * fedveil's differential-privacy layer: privacy events, accountants (RDP,
 * PLD, GDP-CLT), calibration, and the other dp/ modules (distributed noise,
 * ledger) re-exported as they exist.
 */
export * from './events.js';
export * from './special.js';
export * from './accountant.js';
export * from './rdp.js';
export * from './pld.js';
export * from './gdp.js';
export * from './calibrate.js';
export * from './distributed-rdp.js';
